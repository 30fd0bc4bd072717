"""Reading a pack: YAML → validated model. Every problem names the file, the key and what is wrong."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NoReturn

import yaml

from metrics_api.core.kinds import BY_NAME, BY_PLURAL, Kind
from metrics_api.core.model import Direction
from metrics_api.core.promql import LABEL_NAME
from metrics_api.packs.model import (
    VALUE_MARK,
    Classification,
    DerivedLabel,
    FailureRule,
    Identity,
    KindSupport,
    Pack,
    PackError,
    PeerIdentity,
    Source,
    View,
)

PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
COUNTS_PLACEHOLDERS = {"selector", "by", "window"}
COUNTS_OPTIONAL = {"seconds"}
BUCKETS_PLACEHOLDERS = {"selector", "by", "window"}
LATENCY_PLACEHOLDERS = {"selector", "by", "window", "quantile"}
# `latency: histogram_quantile({{quantile}}, <buckets>)` (the older pack form) gives its buckets query.
QUANTILE_OF = re.compile(r"\s*histogram_quantile\(\s*\{\{quantile\}\}\s*,\s*(.*)\)\s*", re.S)
GROUPED_BY_LE = re.compile(r"\bby\s*\([^)]*\ble\b")
# Characters a Kubernetes name may hold: an encoding must map them to characters no name holds.
NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")
DIRECTIONS = ("to", "from")
LATENCY_UNITS = {"ms": 1.0, "s": 1000.0, "us": 0.001}


def load_file(path: Path) -> Pack:
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise PackError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise PackError(f"{path}: not valid YAML: {exc}") from exc
    return parse(document, str(path))


def parse(document: Any, path: str) -> Pack:
    reader = _Reader(path)
    top = reader.mapping(document, "")
    sources = {
        name: reader.source(name, spec) for name, spec in reader.mapping(top.get("sources"), "sources").items()
    }
    unit = reader.text(top.get("latency_unit", "ms"), "latency_unit")
    if unit not in LATENCY_UNITS:
        reader.fail("latency_unit", f"must be one of {', '.join(LATENCY_UNITS)}")
    derived = {
        name: reader.derived(name, spec)
        for name, spec in reader.mapping(top.get("derived_labels", {}), "derived_labels").items()
    }
    kinds = {
        plural: reader.kind(plural, spec, sources, derived)
        for plural, spec in reader.mapping(top.get("kinds"), "kinds").items()
    }
    if not kinds:
        reader.fail("kinds", "a pack must support at least one kind")
    classify = reader.classification(top.get("classify"), kinds)
    return Pack(
        name=reader.text(top.get("mesh"), "mesh"),
        path=path,
        description=str(top.get("description", "")).strip(),
        latency_scale=LATENCY_UNITS[unit],
        classify=classify,
        detect=reader.text(top.get("detect"), "detect"),
        unknown_peer=frozenset(str(v) for v in top.get("unknown_peer", []) or []),
        kinds=kinds,
        encoding=reader.encoding(top.get("encode_values", {})),
        derived=derived,
    )


class _Reader:
    """Validation helpers that name the file and key of every problem."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> NoReturn:
        raise PackError(f"{self.path}: {key or 'document'}: {problem}")

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(key, "must be a mapping")
        return value

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(key, "must be a non-empty string")
        return value.strip()

    def label(self, value: Any, key: str) -> str:
        text = self.text(value, key)
        if not LABEL_NAME.fullmatch(text):
            self.fail(key, f"{text!r} is not a Prometheus label name")
        return text

    def pattern(self, value: Any, key: str) -> re.Pattern[str]:
        try:
            return re.compile(self.text(value, key))
        except re.error as exc:
            self.fail(key, f"not a valid regular expression: {exc}")

    def classification(self, spec: Any, kinds: dict[str, KindSupport]) -> Classification:
        """`{label: L, failure: RE}`, or `{labels: [L, ...], failure: [{L: RE, ...}, ...]}`."""
        spec = self.mapping(spec, "classify")
        definition = str(spec.get("definition", "")).strip()
        if "label" in spec:
            if "labels" in spec:
                self.fail("classify", "give `label` (one status label) or `labels`, not both")
            label = self.label(spec.get("label"), "classify.label")
            rule = ((label, self.pattern(spec.get("failure"), "classify.failure")),)
            classification = Classification((label,), (rule,), definition)
        else:
            classification = Classification(self.status_labels(spec.get("labels")),
                                             self.rules(spec.get("failure")), definition)
        for label, _ in (pair for rule in classification.rules for pair in rule):
            if label not in classification.labels:
                self.fail("classify.failure", f"{label!r} is not one of classify.labels")
        for plural, support in kinds.items():
            for view in (support.resource, *support.edges.values()):
                if clash := set(view.labels()) & set(classification.labels):
                    self.fail("classify.labels", f"{sorted(clash)} also identify kinds.{plural}: "
                              "a status label would split its rows")
        return classification

    def status_labels(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            self.fail("classify.labels", "must be a non-empty list of label names")
        labels = tuple(self.label(label, f"classify.labels[{i}]") for i, label in enumerate(value))
        if len(set(labels)) != len(labels):
            self.fail("classify.labels", "lists a label twice")
        return labels

    def rules(self, value: Any) -> tuple[FailureRule, ...]:
        if not isinstance(value, list) or not value:
            self.fail("classify.failure", "must be a non-empty list of rules ({label: regular expression, ...})")
        rules = []
        for i, rule in enumerate(value):
            key = f"classify.failure[{i}]"
            if not self.mapping(rule, key):
                self.fail(key, "a rule names at least one label")
            rules.append(tuple((self.label(label, f"{key}.{label}"), self.pattern(regex, f"{key}.{label}"))
                               for label, regex in rule.items()))
        return tuple(rules)

    def template(self, value: Any, key: str, required: set[str], optional: frozenset[str] = frozenset()) -> str:
        text = self.text(value, key)
        used = set(PLACEHOLDER.findall(text))
        if unknown := used - required - optional:
            self.fail(key, f"unknown placeholder(s) {sorted(unknown)}; allowed: {sorted(required | optional)}")
        if missing := required - used:
            self.fail(key, f"missing placeholder(s) {sorted(missing)}")
        return text

    def source(self, name: str, spec: Any) -> Source:
        key = f"sources.{name}"
        spec = self.mapping(spec, key)
        return Source(
            name=name,
            counts=self.template(spec.get("counts"), f"{key}.counts", COUNTS_PLACEHOLDERS, frozenset(COUNTS_OPTIONAL)),
            buckets=self.buckets(spec, key),
            buckets_key="buckets" if "buckets" in spec else "latency",
        )

    def buckets(self, spec: dict[str, Any], key: str) -> str:
        """The latency histogram's buckets per `le` and `{{by}}`: `buckets`, or the argument of a
        `latency: histogram_quantile({{quantile}}, …)` template (quantiles are computed by us)."""
        if "buckets" in spec:
            text = self.template(spec["buckets"], f"{key}.buckets", BUCKETS_PLACEHOLDERS)
            where = f"{key}.buckets"
        else:
            latency = self.template(spec.get("latency"), f"{key}.latency", LATENCY_PLACEHOLDERS)
            quantile_of = QUANTILE_OF.fullmatch(latency)
            if quantile_of is None:
                self.fail(f"{key}.latency", "must be histogram_quantile({{quantile}}, <buckets by le>); "
                                            "or give `buckets`")
            text, where = quantile_of.group(1).strip(), f"{key}.latency"
        if not GROUPED_BY_LE.search(text):
            self.fail(where, "the buckets must keep the `le` label (sum by (le, {{by}}) (...))")
        return text

    def encoding(self, spec: Any) -> tuple[tuple[str, str], ...]:
        pairs = []
        for plain, written in self.mapping(spec, "encode_values").items():
            key = f"encode_values.{plain}"
            if not (isinstance(plain, str) and isinstance(written, str) and len(plain) == 1 and len(written) == 1):
                self.fail(key, "map one character of a name to the one character the mesh writes instead")
            if written in NAME_CHARACTERS:
                self.fail(key, f"{written!r} can occur in Kubernetes names, so label values could not be decoded")
            pairs.append((plain, written))
        return tuple(pairs)

    def derived(self, name: str, spec: Any) -> DerivedLabel:
        key = f"derived_labels.{name}"
        self.label(name, key)
        spec = self.mapping(spec, key)
        pattern = self.text(spec.get("match"), f"{key}.match")
        if VALUE_MARK not in pattern:   # once per alternative (Kuma's naming schemes)
            self.fail(f"{key}.match", f"must contain {VALUE_MARK}")
        try:
            re.compile(pattern.replace(VALUE_MARK, "x"))
        except re.error as exc:
            self.fail(f"{key}.match", f"not a valid regular expression: {exc}")
        return DerivedLabel(name, self.label(spec.get("from"), f"{key}.from"), pattern)

    def kind(self, plural: str, spec: Any, sources: dict[str, Source],
             derived: dict[str, DerivedLabel] | None = None) -> KindSupport:
        key = f"kinds.{plural}"
        kind = BY_PLURAL.get(plural)
        if kind is None:
            self.fail(key, f"unknown kind; supported plurals are {', '.join(BY_PLURAL)}")
        spec = self.mapping(spec, key)
        edges_spec = spec.get("edges") or {}
        edges = {}
        for direction, view in self.mapping(edges_spec, f"{key}.edges").items():
            if direction not in DIRECTIONS:
                self.fail(f"{key}.edges.{direction}", "edge direction must be 'to' or 'from'")
            edges[Direction(direction)] = self.view(view, f"{key}.edges.{direction}", sources, kind, peer=True)
            self.derived_made(edges[Direction(direction)], f"{key}.edges.{direction}", derived or {})
        resource = self.view(spec.get("resource"), f"{key}.resource", sources, kind)
        self.derived_made(resource, f"{key}.resource", derived or {})
        return KindSupport(kind, resource, edges)

    def derived_made(self, view: View, key: str, derived: dict[str, DerivedLabel]) -> None:
        """A derived label a view names must be created by its source's templates."""
        for label in view.labels():
            if label in derived:
                source = view.source
                for measure, text in (("counts", source.counts), (source.buckets_key, source.buckets)):
                    if f'"{label}"' not in text:
                        self.fail(f"{key}.source", f"derived label {label!r} is never created by "
                                  f"sources.{source.name}.{measure} (label_replace(..., \"{label}\", ...))")

    def view(self, spec: Any, key: str, sources: dict[str, Source], kind: Kind, peer: bool = False) -> View:
        spec = self.mapping(spec, key)
        source_name = self.text(spec.get("source"), f"{key}.source")
        if source_name not in sources:
            self.fail(f"{key}.source", f"no source named {source_name!r} under `sources`")
        identity = self.mapping(spec.get("self"), f"{key}.self")
        namespace = identity.get("namespace")
        if kind.namespaced and namespace is None:
            self.fail(f"{key}.self.namespace", f"{kind.plural} are namespaced: name the namespace label")
        kind_label = identity.get("kind_label")
        own = Identity(
            name=self.label(identity.get("name"), f"{key}.self.name"),
            namespace=self.label(namespace, f"{key}.self.namespace") if namespace is not None else None,
            kind_label=self.label(kind_label, f"{key}.self.kind_label") if kind_label is not None else None,
            kind_optional=self.kind_optional(identity, f"{key}.self"),
        )
        if not peer:
            return View(sources[source_name], own)
        return View(sources[source_name], own, self.peer(spec.get("peer"), f"{key}.peer"))

    def kind_optional(self, spec: dict[str, Any], key: str) -> bool:
        value = spec.get("kind_label_optional", False)
        if not isinstance(value, bool):
            self.fail(f"{key}.kind_label_optional", "must be true or false")
        if value and "kind_label" not in spec:
            self.fail(f"{key}.kind_label_optional", "needs a kind_label")
        return value

    def peer(self, spec: Any, key: str) -> PeerIdentity:
        spec = self.mapping(spec, key)
        namespace = spec.get("namespace")
        namespace = self.label(namespace, f"{key}.namespace") if namespace is not None else None
        if "kinds" in spec:
            names = []
            for kind_name, label in self.mapping(spec["kinds"], f"{key}.kinds").items():
                if kind_name not in BY_NAME:
                    self.fail(f"{key}.kinds.{kind_name}", "unknown kind spelling (use Deployment, StatefulSet, …)")
                names.append((kind_name, self.label(label, f"{key}.kinds.{kind_name}")))
            return PeerIdentity(namespace, tuple(names))
        name = self.label(spec.get("name"), f"{key}.name")
        if "kind_label" in spec:
            return PeerIdentity(namespace, (("", name),), self.label(spec["kind_label"], f"{key}.kind_label"),
                                self.kind_optional(spec, key))
        kind_name = self.text(spec.get("kind"), f"{key}.kind")
        if kind_name not in BY_NAME:
            self.fail(f"{key}.kind", f"unknown kind spelling {kind_name!r}")
        return PeerIdentity(namespace, ((kind_name, name),))
