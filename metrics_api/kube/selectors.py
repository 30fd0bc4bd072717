"""Kubernetes label selectors (`labelSelector=`), equality- and set-based, parsed and matched here
as k8s.io/apimachinery/pkg/labels does: requirements separated by commas, all must hold.

    app=web  app==web  app!=web  tier in (a,b)  tier notin (a)  app  !app
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from metrics_api.core.errors import bad_request

# A label key: an optional DNS subdomain prefix and "/", then a name; values are names or empty.
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = re.compile(rf"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_NAME}")
_VALUE = re.compile(rf"({_NAME})?")
_REQUIREMENT = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<absent>[^\s,!=()]+)"
    r"|(?P<key>[^\s,!=()]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[^\s,!=()]*)"
    r"|\s(?P<setop>in|notin)\s*\((?P<values>[^()]*)\))?)\s*(?:,|$)")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str                 # in, notin, exists, !
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator == "in":
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values   # notin, !=: absent keys match


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


def parse_selector(text: str) -> Selector:
    """A Selector, or a 400 Status naming what is wrong."""
    requirements: list[Requirement] = []
    position = 0
    while position < len(text):
        match = _REQUIREMENT.match(text, position)
        if match is None or match.end() == position:
            raise _invalid(text, f"cannot parse the requirement at {text[position:position + 40]!r}")
        requirements.append(_requirement(text, match))
        position = match.end()
        if text[position - 1:position] == "," and position == len(text):
            raise _invalid(text, "it ends with a comma")
    if not requirements:
        raise _invalid(text, "it is empty")
    return Selector(tuple(requirements))


def _requirement(text: str, match: re.Match[str]) -> Requirement:
    if match["absent"]:
        return Requirement(_key(text, match["absent"]), "!")
    key = _key(text, match["key"])
    if match["op"]:
        value = _value(text, match["value"])
        return Requirement(key, "notin" if match["op"] == "!=" else "in", frozenset({value}))
    if match["setop"]:
        values = [v.strip() for v in match["values"].split(",")]
        if values == [""]:
            raise _invalid(text, f"the set of values for {key!r} is empty")
        return Requirement(key, match["setop"], frozenset(_value(text, v) for v in values))
    return Requirement(key, "exists")


def _key(text: str, key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    if _KEY.fullmatch(key) is None or len(name) > 63 or len(key) - len(name) > 254:
        raise _invalid(text, f"{key!r} is not a valid label key")
    return key


def _value(text: str, value: str) -> str:
    if _VALUE.fullmatch(value) is None or len(value) > 63:
        raise _invalid(text, f"{value!r} is not a valid label value")
    return value


def _invalid(text: str, why: str):
    return bad_request(f"unable to parse requirement: invalid labelSelector {text!r}: {why}")
