"""`top` and `edges` as kubectl prints tables: upper-case headers, columns padded like kubectl's tabwriter."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum

from metrics_api.client.samples import Sample, Traffic
from metrics_api.core.cells import NO_DATA
from metrics_api.core.kinds import BY_NAME

TRAFFIC_HEADER = ["SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P90", "LATENCY_P99"]
EDGE_HEADER = ["DIRECTION", "PEER", "PEER_NAMESPACE", *TRAFFIC_HEADER]
# kubectl's printers.GetNewTabWriter: tabwriter.NewWriter(out, minwidth 10, tabwidth 4, padding 3, ' ', 0)
MIN_WIDTH, PADDING = 10, 3


class SortBy(str, Enum):
    """Worst first: lowest success, busiest, slowest. Rows without traffic go last."""
    NAME = "name"
    SUCCESS = "success"
    RPS = "rps"
    P50 = "p50"
    P90 = "p90"
    P99 = "p99"


_KEYS: dict[SortBy, Callable[[Traffic], float | None]] = {
    SortBy.SUCCESS: lambda t: t.success_rate,
    SortBy.RPS: lambda t: -t.rps if t.total > 0 else None,
    SortBy.P50: lambda t: None if t.p50 is None else -t.p50,
    SortBy.P90: lambda t: None if t.p90 is None else -t.p90,
    SortBy.P99: lambda t: None if t.p99 is None else -t.p99,
}


def sort_samples(samples: Sequence[Sample], by: SortBy) -> list[Sample]:
    """The server's order (namespace, name) for NAME, and the tie-break for the others."""
    ordered = sorted(samples, key=lambda s: (s.resource.namespace, s.resource.name, s.resource.kind))
    if by is SortBy.NAME:
        return ordered
    key = _KEYS[by]
    return sorted(ordered, key=lambda s: (key(s.traffic) is None, key(s.traffic) or 0.0))


def traffic_cells(traffic: Traffic) -> list[str]:
    cells = traffic.cells()
    return [cells["success"], cells["rps"], cells["p50"], cells["p90"], cells["p99"]]


def top_table(samples: Sequence[Sample], all_namespaces: bool, by: SortBy) -> list[list[str]]:
    header = (["NAMESPACE"] if all_namespaces else []) + ["NAME", "KIND", *TRAFFIC_HEADER]
    rows = [([s.resource.namespace] if all_namespaces else []) + [s.resource.name, s.resource.kind,
                                                                    *traffic_cells(s.traffic)]
            for s in sort_samples(samples, by)]
    return [header, *rows]


def edges_table(samples: Sequence[Sample]) -> list[list[str]]:
    rows = [[s.direction.value, peer_cell(s), (s.peer.namespace or NO_DATA) if s.peer else NO_DATA,
             *traffic_cells(s.traffic)]
            for s in sorted(samples, key=lambda s: (s.direction.value, s.peer or s.resource))]
    return [EDGE_HEADER, *rows]


def peer_cell(sample: Sample) -> str:
    """`kind/name` with the singular kind, as the server's Table and kubectl name objects."""
    if sample.peer is None:
        return NO_DATA
    kind = BY_NAME.get(sample.peer.kind)
    return f"{kind.singular if kind else sample.peer.kind.lower()}/{sample.peer.name}"


def render(table: Sequence[Sequence[str]], empty: str) -> str:
    """Aligned text; `empty` (kubectl's "No resources found …") when there are no rows."""
    if len(table) <= 1:
        return empty
    widths = [max(MIN_WIDTH, max(len(row[i]) for row in table) + PADDING) for i in range(len(table[0]))]
    return "\n".join("".join(cell.ljust(width) for cell, width in zip(row[:-1], widths)) + row[-1]
                     for row in table)
