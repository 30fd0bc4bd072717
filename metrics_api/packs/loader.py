"""Reading a pack: YAML → validated model. Every problem names the file, the key and what is wrong."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from metrics_api.core.kinds import BY_NAME, BY_PLURAL, Kind
from metrics_api.core.model import Direction
from metrics_api.core.promql import LABEL_NAME
from metrics_api.packs.model import (
    VALUE_MARK,
    DerivedLabel,
    Identity,
    KindSupport,
    Pack,
    PackError,
    PeerIdentity,
    Source,
    View,
    WorkloadPods,
)

PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
COUNTS_PLACEHOLDERS = {"selector", "by", "window"}
COUNTS_OPTIONAL = {"seconds"}
LATENCY_PLACEHOLDERS = {"selector", "by", "window", "quantile"}
# Characters a Kubernetes name may hold: an encoding must map them to characters no name holds.
NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")
DIRECTIONS = ("to", "from")
LATENCY_UNITS = {"ms": 1.0, "s": 1000.0, "us": 0.001}
# A latency template of this shape also gives the bucket rates (its inner part), from which the server
# computes quantiles itself after adding up the pods of a workload (cluster views).
QUANTILE_OF = re.compile(r"\s*histogram_quantile\(\s*\{\{quantile\}\}\s*,(?P<buckets>.*)\)\s*", re.DOTALL)
# What an identity may name instead of the requested kind: what Kubernetes maps to the owning workload.
MAPPED_KINDS = ("Pod", "Service")


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
    classify = reader.mapping(top.get("classify"), "classify")
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
    cluster = reader.mapping(top.get("cluster", {"kinds": {}}), "cluster")
    cluster_kinds = {
        plural: reader.kind(plural, spec, sources, derived, key=f"cluster.kinds.{plural}")
        for plural, spec in reader.mapping(cluster.get("kinds"), "cluster.kinds").items()
    }
    workload_pods = tuple(reader.workload_pods(spec, f"workload_pods[{i}]", sources)
                          for i, spec in enumerate(reader.sequence(top.get("workload_pods", []), "workload_pods")))
    try:
        failure = re.compile(reader.text(classify.get("failure"), "classify.failure"))
    except re.error as exc:
        reader.fail("classify.failure", f"not a valid regular expression: {exc}")
    return Pack(
        name=reader.text(top.get("mesh"), "mesh"),
        path=path,
        description=str(top.get("description", "")).strip(),
        latency_scale=LATENCY_UNITS[unit],
        status_label=reader.label(classify.get("label"), "classify.label"),
        failure=failure,
        detect=reader.text(top.get("detect"), "detect"),
        unknown_peer=frozenset(str(v) for v in top.get("unknown_peer", []) or []),
        kinds=kinds,
        encoding=reader.encoding(top.get("encode_values", {})),
        derived=derived,
        cluster_kinds=cluster_kinds,
        workload_pods=workload_pods,
    )


class _Reader:
    """Validation helpers that name the file and key of every problem."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> None:
        raise PackError(f"{self.path}: {key or 'document'}: {problem}")

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(key, "must be a mapping")
        return value

    def sequence(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list):
            self.fail(key, "must be a list")
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
        latency = self.template(spec.get("latency"), f"{key}.latency", LATENCY_PLACEHOLDERS)
        shape = QUANTILE_OF.fullmatch(latency)
        return Source(
            name=name,
            counts=self.template(spec.get("counts"), f"{key}.counts", COUNTS_PLACEHOLDERS, frozenset(COUNTS_OPTIONAL)),
            latency=latency,
            buckets=shape.group("buckets").strip() if shape and "{{quantile}}" not in shape.group("buckets") else None,
        )

    def encoding(self, spec: Any) -> tuple[tuple[str, str], ...]:
        pairs = []
        for plain, written in self.mapping(spec, "encode_values").items():
            key = f"encode_values.{plain}"
            if not (isinstance(plain, str) and isinstance(written, str) and len(plain) == 1 and len(written) == 1):
                self.fail(key, "map one character of a name to the one character the mesh writes instead")
            if written in NAME_CHARACTERS:
                self.fail(key, f"{written!r} can occur in Kubernetes names, so label values could not be decoded")
            pairs.append((plain, written))
        if len({written for _, written in pairs}) != len(pairs):
            self.fail("encode_values", "two characters are encoded the same way, so values could not be decoded")
        return tuple(pairs)

    def derived(self, name: str, spec: Any) -> DerivedLabel:
        key = f"derived_labels.{name}"
        self.label(name, key)
        spec = self.mapping(spec, key)
        pattern = self.text(spec.get("match"), f"{key}.match")
        if pattern.count(VALUE_MARK) != 1:
            self.fail(f"{key}.match", f"must contain {VALUE_MARK} exactly once")
        try:
            re.compile(pattern.replace(VALUE_MARK, "x"))
        except re.error as exc:
            self.fail(f"{key}.match", f"not a valid regular expression: {exc}")
        return DerivedLabel(name, self.label(spec.get("from"), f"{key}.from"), pattern)

    def kind(self, plural: str, spec: Any, sources: dict[str, Source],
             derived: dict[str, DerivedLabel] | None = None, key: str = "") -> KindSupport:
        """`key` under `cluster.kinds`: the views may name what they identify (`self.identifies`)."""
        key = key or f"kinds.{plural}"
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
                for measure in ("counts", "latency"):
                    if f'"{label}"' not in getattr(view.source, measure):
                        self.fail(f"{key}.source", f"derived label {label!r} is never created by "
                                  f"sources.{view.source.name}.{measure} (label_replace(..., \"{label}\", ...))")

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
            identifies=self.identifies(identity.get("identifies"), f"{key}.self.identifies", sources[source_name]),
        )
        if not peer:
            return View(sources[source_name], own)
        return View(sources[source_name], own, self.peer(spec.get("peer"), f"{key}.peer"))

    def identifies(self, value: Any, key: str, source: Source) -> str | None:
        if value is None:
            return None
        if not key.startswith("cluster."):
            self.fail(key, "only views under cluster.kinds are mapped through Kubernetes")
        if value not in MAPPED_KINDS:
            self.fail(key, f"must be one of {', '.join(MAPPED_KINDS)}")
        if source.buckets is None:
            self.fail(key, f"sources.{source.name}.latency must have the form "
                           "'histogram_quantile({{quantile}}, sum by (le, {{by}}) (...))' to be added up per workload")
        return value

    def workload_pods(self, spec: Any, key: str, sources: dict[str, Source]) -> WorkloadPods:
        spec = self.mapping(spec, key)
        source_name = self.text(spec.get("source"), f"{key}.source")
        if source_name not in sources:
            self.fail(f"{key}.source", f"no source named {source_name!r} under `sources`")
        identity = self.mapping(spec.get("self"), f"{key}.self")
        default = self.text(spec.get("default"), f"{key}.default")
        if default not in BY_NAME or not BY_NAME[default].workload:
            self.fail(f"{key}.default", "must be a workload kind (Deployment, StatefulSet, DaemonSet, Job)")
        return WorkloadPods(
            source=sources[source_name],
            self=Identity(name=self.label(identity.get("name"), f"{key}.self.name"),
                          namespace=self.label(identity.get("namespace"), f"{key}.self.namespace")),
            pod=self.label(spec.get("pod"), f"{key}.pod"),
            default=default,
        )

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
            return PeerIdentity(namespace, (("", name),), self.label(spec["kind_label"], f"{key}.kind_label"))
        kind_name = self.text(spec.get("kind"), f"{key}.kind")
        if kind_name not in BY_NAME:
            self.fail(f"{key}.kind", f"unknown kind spelling {kind_name!r}")
        return PeerIdentity(namespace, ((kind_name, name),))
