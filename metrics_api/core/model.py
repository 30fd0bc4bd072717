"""The plain data that flows between the stages: what was asked (Target, Attributes), what was
measured (Ref, Row) and the answer before rendering (Answer). No behaviour beyond small properties."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from metrics_api.core.kinds import Kind


class Direction(StrEnum):
    """Which traffic a row measures: the resource's own (inbound) traffic, or one edge direction."""
    RESOURCE = ""    # a resource's own numbers
    TO = "to"        # traffic from the resource to the peer
    FROM = "from"    # traffic from the peer into the resource


class Measure(StrEnum):
    """What one planned query reads."""
    COUNTS = "counts"        # responses by status over the window
    PRESENCE = "presence"    # only which resources exist (a caller without server-side series)
    BUCKETS = "buckets"      # the latency histogram's bucket rates (quantiles computed from them)
    P99 = "p99"
    P90 = "p90"
    P50 = "p50"


# Latency quantiles, computed from the buckets (pipeline/quantile.py).
QUANTILES: dict[Measure, float] = {Measure.P99: 0.99, Measure.P90: 0.9, Measure.P50: 0.5}


@dataclass(frozen=True)
class Target:
    """What a client asked for, parsed and validated."""
    plural: str                  # as requested: a kind's plural or `trafficmetrics`
    kinds: tuple[Kind, ...]      # kinds to measure, in resolution order
    namespace: str | None        # None: every namespace (or a cluster-scoped kind)
    name: str | None             # None: a list
    edges: bool
    window: float                # seconds
    label_selector: str | None = None
    group: str = ""              # the API group named in messages about the object ("" = core)
    field_selector: str | None = None   # lists only: metadata.name / metadata.namespace (validated at routing)

    @property
    def is_list(self) -> bool:
        return self.name is None and not self.edges


@dataclass(frozen=True)
class Attributes:
    """The request as kube-apiserver's request-info parser sees it (for authorization)."""
    verb: str               # get | list
    resource: str
    subresource: str
    namespace: str
    name: str
    group: str = ""         # the API group the path belongs to
    version: str = ""


@dataclass(frozen=True, order=True)
class Ref:
    """An object reference: `namespace` is "" for cluster-scoped kinds."""
    namespace: str
    name: str
    kind: str

    @property
    def cluster_scoped(self) -> bool:
        return self.namespace == ""


NO_PEER = Ref("", "", "")


@dataclass
class Row:
    resource: Ref
    direction: Direction
    peer: Ref | None
    success: float = 0.0
    failure: float = 0.0
    latency_ms: dict[Measure, float] = field(default_factory=dict)   # p50/p90/p99; absent = no data

    @property
    def sort_key(self) -> tuple[str, str, str, Ref]:
        return (self.resource.namespace, self.resource.name, self.direction, self.peer or NO_PEER)


@dataclass(frozen=True)
class Answer:
    """What a request measured, before rendering: the HTTP layer picks JSON or a Table from Accept."""
    target: Target
    rows: list[Row]      # a get: exactly one row; a list or an edge list: every item, sorted
    at: float            # evaluation instant (unix seconds)
    path: str            # the request path (a list's selfLink)
    root: Ref | None     # an edge list: the measured object; otherwise None

    @property
    def is_object(self) -> bool:
        return self.target.name is not None and not self.target.edges
