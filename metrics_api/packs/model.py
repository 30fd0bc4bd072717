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

Two more say what the series identify, for meshes that do not name workload kinds: `cluster.kinds`
(views used only with Kubernetes access, whose identity `identifies` a Pod or a Service that the
server maps to the workload owning it) and `workload_pods` (series naming a workload with its pods,
from whose names --local mode infers the workload's kind).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from metrics_api.core.kinds import Kind
from metrics_api.core.model import Direction

VALUE_MARK = "{value}"   # where a derived label's value sits in the pattern of the label it comes from


class PackError(ValueError):
    """A pack that cannot be used; the message names the file, the key and the problem."""


@dataclass(frozen=True)
class Source:
    name: str
    counts: str    # template: counts grouped by `{{by}}` (the status label is added to it)
    latency: str   # template: one latency quantile, grouped by `{{by}}`
    buckets: str | None = None   # the latency template's bucket rates by (le, {{by}}), when it has that shape


@dataclass(frozen=True)
class Identity:
    """Labels that name one side of the traffic in a result series."""
    name: str                       # label holding the object name
    namespace: str | None = None    # label holding its namespace; None for cluster-scoped kinds
    kind_label: str | None = None   # label whose value must be the kind's spelling (OSM, Hubble)
    identifies: str | None = None   # the kind the labels name when not the requested one (Pod, Service):
                                    # mapped through Kubernetes to the workload behind it


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
class WorkloadPods:
    """Series that name a workload together with the pods reporting for it (`workload_pods`)."""
    source: Source
    self: Identity    # the workload's namespace and name labels
    pod: str          # the label holding a pod's name
    default: str      # the kind when the pod names tell nothing (Kubernetes spelling)


@dataclass(frozen=True)
class KindSupport:
    kind: Kind
    resource: View
    edges: dict[Direction, View] = field(default_factory=dict)


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
    cluster_kinds: dict[str, KindSupport] = field(default_factory=dict)   # replace/add with Kubernetes access
    workload_pods: tuple[WorkloadPods, ...] = ()

    def for_cluster(self) -> Pack:
        """The pack as served with Kubernetes access: `cluster.kinds` replace or add kinds."""
        if not self.cluster_kinds:
            return self
        return replace(self, kinds={**self.kinds, **self.cluster_kinds}, cluster_kinds={})

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
