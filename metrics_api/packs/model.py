"""Query packs: one YAML file per mesh under `queries/`, loaded and validated into plain data.

A pack is data, never code. It names the PromQL templates that read a mesh's series (`sources`),
and for every SMI kind it supports, which source and which labels identify the resource and,
for edges, the peer. Templates only carry these placeholders, filled by the planner:
`{{selector}}` (escaped label matchers), `{{by}}` (label names from the pack), `{{window}}`,
`{{quantile}}` and, optionally in counts, `{{seconds}}` (the window as a number, so that
`rate(...) * {{seconds}}` counts the same on every engine). Nothing a client sends can alter a
template's text.

`classify` says which result rows are failures, by rules over one or more status labels (HTTP status,
gRPC status, transport error): a row fails when any rule matches, a rule matches when each of its
labels fully matches its regular expression (an absent label reads as ""). Matching happens on the
values Prometheus returns; nothing of it enters PromQL except the label names.

Three optional keys describe meshes whose labels do not hold names verbatim (docs/meshes.md):
`encode_values` (characters the mesh replaced in label values, e.g. OSM's `-` → `_`),
`derived_labels` (labels a template creates with `label_replace`, selected through the label they
are parsed from) and an identity's `kind_label` (a label whose value is the resource's kind), with
`kind_label_optional` when some deployments of the mesh lack that label (then series without it are
read kind-blind: served as Deployments only, peers reported as Deployments; with Kubernetes access,
for the kind asked, the cluster's kinds deciding).

Two more say what the series identify, for meshes that do not name workload kinds: `cluster.kinds`
(views used only with Kubernetes access, whose identity `identifies` a Pod or a Service that the
server maps to the workload owning it) and `workload_pods` (series naming a workload with its pods,
from whose names --local mode infers the workload's kind).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from metrics_api.core.kinds import Kind
from metrics_api.core.model import Direction, Side

VALUE_MARK = "{value}"   # where a derived label's value sits in the pattern of the label it comes from
KIND_BLIND_PEER = "Deployment"   # the kind reported for a workload peer whose series carry no kind


class PackError(ValueError):
    """A pack that cannot be used; the message names the file, the key and the problem."""


@dataclass(frozen=True)
class Source:
    name: str
    counts: str    # template: counts grouped by `{{by}}` (the status label is added to it)
    buckets: str   # template: the latency histogram's bucket rates, grouped by `le` and `{{by}}`
    buckets_key: str = "buckets"   # the pack key it came from (`buckets`, or `latency` around it)


@dataclass(frozen=True)
class Identity:
    """Labels that name one side of the traffic in a result series."""
    name: str                       # label holding the object name
    namespace: str | None = None    # label holding its namespace; None for cluster-scoped kinds
    kind_label: str | None = None   # label whose value must be the kind's spelling (OSM, Hubble)
    kind_optional: bool = False     # series may lack kind_label (older Hubble): read those kind-blind
    identifies: str | None = None   # the kind the labels name when not the requested one (Pod, Service):
                                    # mapped through Kubernetes to the workload behind it


@dataclass(frozen=True)
class DerivedLabel:
    """A label a template creates with label_replace from `source`; selected on `source` with
    `pattern` (a regular expression where each `{value}` stands for the escaped value)."""
    name: str
    source: str
    pattern: str


@dataclass(frozen=True)
class PeerIdentity:
    """Labels that name the other side of an edge, possibly of several kinds."""
    namespace: str | None
    names: tuple[tuple[str, str], ...]   # (Kind spelling, label) in priority order
    kind_label: str | None = None        # label whose value is the peer's kind (then names has one entry)
    kind_optional: bool = False          # a peer without kind_label is reported as KIND_BLIND_PEER

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


FailureRule = tuple[tuple[str, "re.Pattern[str]"], ...]   # (label, pattern) pairs that must all match


@dataclass(frozen=True)
class Classification:
    labels: tuple[str, ...]            # status labels, appended to every counts grouping
    rules: tuple[FailureRule, ...]     # a row fails when any rule matches
    definition: str = ""               # the pack's failure definition in words (docs, `queries check`)

    def is_failure(self, metric: dict[str, str]) -> bool:
        return any(all(pattern.fullmatch(metric.get(label, "")) for label, pattern in rule) for rule in self.rules)


@dataclass(frozen=True)
class ApexMatch:
    """A label naming the Service a client addressed, and its pattern: `{name}` and `{namespace}` stand
    for the apex Service's escaped name and namespace."""
    label: str
    pattern: str


@dataclass(frozen=True)
class BackendView:
    """How a mesh sees the backends of a traffic split from the client side: the source, the labels naming
    the backend Service, and where the mesh records it, the addressed apex and the client's namespace."""
    source: Source
    backend: Identity
    apex: ApexMatch | None = None        # None: requests are counted per backend whatever Service was addressed
    client_namespace: str | None = None  # label holding the client's namespace (GAMMA consumer routes)


@dataclass(frozen=True)
class Backends:
    """A pack's `backends` key: a view, or why the mesh cannot observe backends."""
    view: BackendView | None
    unobservable: str = ""


NO_BACKENDS = Backends(None, "the query pack does not say how it observes traffic-split backends")


@dataclass(frozen=True)
class Pack:
    name: str
    path: str
    description: str
    latency_scale: float          # multiply the mesh's latency unit by this to get milliseconds
    classify: Classification      # which counted rows are failures
    detect: str                   # a series selector present only when this mesh is
    unknown_peer: frozenset[str]  # peer names meaning "not in the mesh": such peers are not edges
    kinds: dict[str, KindSupport]
    encoding: tuple[tuple[str, str], ...] = ()        # (name character, as the mesh writes it)
    derived: dict[str, DerivedLabel] = field(default_factory=dict)
    sides: dict[str, Side] = field(default_factory=dict)   # source name → the proxy that reports it
    backends: Backends = NO_BACKENDS
    cluster_kinds: dict[str, KindSupport] = field(default_factory=dict)   # replace/add with Kubernetes access
    workload_pods: tuple[WorkloadPods, ...] = ()
    kinds_from_cluster: bool = False   # served with Kubernetes access: the cluster knows each workload's kind

    def side(self, view: View | BackendView) -> Side | None:
        return self.sides.get(view.source.name)

    def for_cluster(self) -> Pack:
        """The pack as served with Kubernetes access: `cluster.kinds` replace or add kinds, and series
        without an optional kind label are read for whichever kind is asked (pipeline/plan.py)."""
        return replace(self, kinds={**self.kinds, **self.cluster_kinds}, cluster_kinds={}, kinds_from_cluster=True)

    def support(self, plural: str) -> KindSupport | None:
        return self.kinds.get(plural)

    def encode(self, value: str) -> str:
        """A name as the mesh writes it in label values."""
        for plain, written in self.encoding:
            value = value.replace(plain, written)
        return value

    def decode(self, value: str) -> str:
        """A label value back to a name. Exact unless two name characters are written alike (OSM writes
        `-` and `.` as `_`): then the first listed wins, and a requested name is answered as requested."""
        for plain, written in self.encoding:
            value = value.replace(written, plain)
        return value


def fill(template: str, selector: str, by: str, window: str, seconds: str = "") -> str:
    """A template with its placeholders filled. Only these four exist (the loader rejects any other),
    and their values are escaped literals, label names from the pack, a range and a number."""
    return (
        template.replace("{{selector}}", selector)
        .replace("{{by}}", by)
        .replace("{{window}}", window)
        .replace("{{seconds}}", seconds)
    )
