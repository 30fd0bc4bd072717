"""Query packs: one YAML file per mesh under `queries/`, loaded and validated into plain data.

A pack is data, never code. It names the PromQL templates that read a mesh's series (`sources`),
and for every SMI kind it supports, which source and which labels identify the resource and,
for edges, the peer. Templates only carry these placeholders, filled by the planner:
`{{selector}}` (escaped label matchers), `{{by}}` (label names from the pack), `{{window}}`,
`{{quantile}}` and, optionally in counts, `{{seconds}}` (the window as a number, so that
`rate(...) * {{seconds}}` counts the same on every engine). Nothing a client sends can alter a
template's text.

Three optional keys describe meshes whose labels do not hold names verbatim (docs/meshes.md):
`encode_values` (characters the mesh replaced in label values, e.g. OSM's `-` → `_`),
`derived_labels` (labels a template creates with `label_replace`, selected through the label they
are parsed from) and an identity's `kind_label` (a label whose value is the resource's kind).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .kinds import BY_NAME, BY_PLURAL, Kind
from .promql import LABEL_NAME

PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
COUNTS_PLACEHOLDERS = {"selector", "by", "window"}
COUNTS_OPTIONAL = {"seconds"}
LATENCY_PLACEHOLDERS = {"selector", "by", "window", "quantile"}
VALUE_MARK = "{value}"   # where a derived label's value sits in the pattern of the label it comes from
# Characters a Kubernetes name may hold: an encoding must map them to characters no name holds.
NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")
DIRECTIONS = ("to", "from")
LATENCY_UNITS = {"ms": 1.0, "s": 1000.0, "us": 0.001}


class PackError(ValueError):
    """A pack that cannot be used; the message names the file, the key and the problem."""


@dataclass(frozen=True)
class Source:
    name: str
    counts: str    # template: counts grouped by `{{by}}` (the status label is added to it)
    latency: str   # template: one latency quantile, grouped by `{{by}}`


@dataclass(frozen=True)
class Identity:
    """Labels that name one side of the traffic in a result series."""
    name: str                       # label holding the object name
    namespace: str | None = None    # label holding its namespace; None for cluster-scoped kinds
    kind_label: str | None = None   # label whose value must be the kind's spelling (OSM, Hubble)


@dataclass(frozen=True)
class DerivedLabel:
    """A label a template creates with label_replace from `source`; selected on `source` with
    `pattern` (a regular expression where `{value}` stands for the escaped value)."""
    name: str
    source: str
    pattern: str


@dataclass(frozen=True)
class PeerIdentity:
    """Labels that name the other side of an edge, possibly of several kinds."""
    namespace: str | None
    names: tuple[tuple[str, str], ...]   # (Kind spelling, label) in priority order
    kind_label: str | None = None        # label whose value is the peer's kind (then names has one entry)

    def labels(self) -> list[str]:
        found = [self.namespace] if self.namespace else []
        found += [label for _, label in self.names]
        if self.kind_label:
            found.append(self.kind_label)
        return found


@dataclass(frozen=True)
class View:
    source: Source
    self: Identity
    peer: PeerIdentity | None = None

    def labels(self) -> list[str]:
        found = [label for label in (self.self.namespace, self.self.name) if label]
        if self.peer:
            found += [label for label in self.peer.labels() if label not in found]
        return found


@dataclass(frozen=True)
class KindSupport:
    kind: Kind
    resource: View
    edges: dict[str, View] = field(default_factory=dict)


@dataclass(frozen=True)
class Pack:
    name: str
    path: str
    description: str
    latency_scale: float          # multiply the mesh's latency unit by this to get milliseconds
    status_label: str             # label whose value classifies a response
    failure: re.Pattern[str]      # fully matched against status_label's value
    detect: str                   # a series selector present only when this mesh is
    unknown_peer: frozenset[str]  # peer names meaning "not in the mesh": such peers are not edges
    kinds: dict[str, KindSupport]
    encoding: tuple[tuple[str, str], ...] = ()        # (name character, as the mesh writes it)
    derived: dict[str, DerivedLabel] = field(default_factory=dict)

    def support(self, plural: str) -> KindSupport | None:
        return self.kinds.get(plural)

    def encode(self, value: str) -> str:
        """A name as the mesh writes it in label values."""
        for plain, written in self.encoding:
            value = value.replace(plain, written)
        return value

    def decode(self, value: str) -> str:
        """A label value back to the name (exact: encoded characters never occur in names)."""
        for plain, written in self.encoding:
            value = value.replace(written, plain)
        return value


def queries_dir() -> Path:
    configured = os.environ.get("SMI_METRICS_QUERIES_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent / "queries"


# mesh name → user pack file (--query-packs), preferred over the shipped pack of that name
_overrides: dict[str, Path] = {}


def use_overrides(file_or_directory: str) -> list[Pack]:
    """Register user packs: one YAML file, or every *.yaml/*.yml in a directory (a ConfigMap mount).
    Each is validated now (a PackError names file, key and problem); each then replaces the shipped
    pack with the same `mesh` name, or adds a new one."""
    path = Path(file_or_directory)
    if path.is_dir():
        files = sorted(f for f in path.iterdir() if f.suffix in (".yaml", ".yml") and f.is_file())
    elif path.is_file():
        files = [path]
    else:
        raise PackError(f"{path}: --query-packs: no such file or directory")
    if not files:
        raise PackError(f"{path}: --query-packs: no *.yaml query pack in this directory")
    loaded = [load(str(file.resolve())) for file in files]
    names = [pack.name for pack in loaded]
    if duplicates := sorted({n for n in names if names.count(n) > 1}):
        raise PackError(f"{path}: --query-packs: several files define mesh {', '.join(duplicates)}")
    for file, pack in zip(files, loaded):
        _overrides[pack.name] = file.resolve()
    return loaded


def available() -> list[str]:
    return sorted({p.stem for p in queries_dir().glob("*.yaml")} | set(_overrides))


def load(name_or_file: str) -> Pack:
    """A pack by name (`linkerd`: a user override, else from `queries/`), or from a YAML file path."""
    path = Path(name_or_file)
    if name_or_file in _overrides:
        path = _overrides[name_or_file]
    elif not (name_or_file.endswith((".yaml", ".yml")) or os.sep in name_or_file):
        path = queries_dir() / f"{name_or_file}.yaml"
        if not path.exists():
            raise PackError(f"unknown mesh {name_or_file!r}: known packs are {', '.join(available())}")
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
        return Source(
            name=name,
            counts=self.template(spec.get("counts"), f"{key}.counts", COUNTS_PLACEHOLDERS, frozenset(COUNTS_OPTIONAL)),
            latency=self.template(spec.get("latency"), f"{key}.latency", LATENCY_PLACEHOLDERS),
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
            edges[direction] = self.view(view, f"{key}.edges.{direction}", sources, kind, peer=True)
            self.derived_made(edges[direction], f"{key}.edges.{direction}", derived or {})
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
        )
        if not peer:
            return View(sources[source_name], own)
        return View(sources[source_name], own, self.peer(spec.get("peer"), f"{key}.peer"))

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
