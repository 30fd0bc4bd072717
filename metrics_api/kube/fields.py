"""Field selectors (`fieldSelector=`), as kube-apiserver accepts them on every resource: the fields
`metadata.name` and `metadata.namespace`, each with `=`, `==` or `!=`, terms separated by commas, `\\`
escaping `\\`, `,` and `=` in values. Syntax and messages as k8s.io/apimachinery/pkg/fields/selector.go;
the two fields as apimachinery/pkg/runtime/conversion.go DefaultMetaV1FieldSelectorConversion."""
from __future__ import annotations

from dataclasses import dataclass

from metrics_api.core.errors import bad_request
from metrics_api.core.model import Ref

NAME_FIELD, NAMESPACE_FIELD = "metadata.name", "metadata.namespace"
_OPERATORS = ("!=", "==", "=")   # tried in this order at each position, as splitTerm does
_ESCAPABLE = "\\,="


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    equal: bool   # = and ==: the field holds the value; !=: it does not

    def matches(self, ref: Ref) -> bool:
        actual = ref.name if self.field == NAME_FIELD else ref.namespace
        return (actual == self.value) == self.equal


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...]

    def matches(self, ref: Ref) -> bool:
        return all(r.matches(ref) for r in self.requirements)


def parse_field_selector(text: str) -> FieldSelector:
    """A FieldSelector (no requirements for ""), or a 400 Status in kube-apiserver's words."""
    requirements = []
    for term in _split_terms(text):
        if not term:
            continue
        field, operator, value = _split_term(text, term)
        if field not in (NAME_FIELD, NAMESPACE_FIELD):
            raise bad_request(f'"{field}" is not a known field selector: only "{NAME_FIELD}", "{NAMESPACE_FIELD}"')
        requirements.append(FieldRequirement(field, _unescape(value), operator != "!="))
    return FieldSelector(tuple(requirements))


def _split_terms(text: str) -> list[str]:
    """`text` split at commas not escaped by a backslash."""
    terms, start, index = [], 0, 0
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == ",":
            terms.append(text[start:index])
            start = index + 1
        index += 1
    terms.append(text[start:])
    return terms


def _split_term(text: str, term: str) -> tuple[str, str, str]:
    index = 0
    while index < len(term):
        if term[index] == "\\":
            index += 2
            continue
        for operator in _OPERATORS:
            if term.startswith(operator, index):
                return term[:index], operator, term[index + len(operator):]
        index += 1
    raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")


def _unescape(value: str) -> str:
    r"""UnescapeValue: `\\`, `\,` and `\=` stand for themselves; any other escape, or a bare `=`, is an error."""
    out, index = [], 0
    while index < len(value):
        char = value[index]
        if char == "\\":
            sequence = value[index:index + 2]
            if len(sequence) < 2 or sequence[1] not in _ESCAPABLE:
                raise bad_request(f"invalid field selector: invalid escape sequence: {sequence}")
            char = sequence[1]
            index += 1
        elif char in ",=":
            raise bad_request(f"invalid field selector: unescaped character in value: {char}")
        out.append(char)
        index += 1
    return "".join(out)
