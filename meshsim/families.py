"""Counter and histogram series from a SeriesSet, shared by the renderers whose status labels are
appended to the base label string (Envoy's response code class, Hubble's status, ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from .openmetrics import Counter, Histogram, SeriesSet, linear_histogram
from .scenario import BASE_STEPS, IDLE_OFFSET, Outcome, pod_ip

Cells = list[tuple[float, int]]
StatusLabels = Callable[[Outcome], str]   # an outcome → its rendered status label(s), e.g. 'status="500"'
Recorded = Callable[[Outcome], bool]      # whether the mesh records such a request in this family


def _everything(_: Outcome) -> bool:
    return True


def responded(outcome: Outcome) -> bool:
    return outcome.responded


def _grouped(series: SeriesSet, status: StatusLabels | None, recorded: Recorded) -> Iterator[tuple[str, Cells]]:
    """(labels, cells) per series: one per rendered status when `status` is given, else statuses merged;
    outcomes `recorded` rejects are left out."""
    for labels, by_outcome in series.items():
        grouped: dict[str, Cells] = {}
        for outcome, cells in sorted(by_outcome.items(), key=lambda item: item[0].sort_key()):
            if recorded(outcome):
                key = labels if status is None else f"{labels},{status(outcome)}"
                grouped.setdefault(key, []).extend(cells)
        yield from grouped.items()


def counters(series: SeriesSet, status: StatusLabels | None = None, recorded: Recorded = _everything) -> Iterator[Counter]:
    for labels, cells in _grouped(series, status, recorded):
        yield Counter(labels, sum(BASE_STEPS * c + IDLE_OFFSET for _, c in cells), sum(c for _, c in cells))


def histograms(
    series: SeriesSet,
    bounds_ms: Sequence[float],
    status: StatusLabels | None = None,
    *,
    les: Sequence[str] | None = None,
    unit_ms: float = 1.0,
    observe: Callable[[float], float] = float,
    recorded: Recorded = _everything,
) -> Iterator[Histogram]:
    """`observe` maps a true latency to what the proxy records (e.g. OSM truncates to whole ms)."""
    for labels, cells in _grouped(series, status, recorded):
        observed = [(observe(ms), c) for ms, c in cells]
        yield linear_histogram(labels, bounds_ms, observed, BASE_STEPS, IDLE_OFFSET, les, unit_ms)


def envoy_class(outcome: Outcome) -> str:
    """Envoy counts the HTTP status it answered: an upstream reset becomes its own local reply 503
    ("upstream connect error or disconnect/reset before headers"; envoyproxy/envoy
    source/common/router/router.cc Filter::onUpstreamReset, not re-read: notes/fidelity.md §9.5), and a
    gRPC answer is HTTP 200 whatever its grpc-status, which only Envoy's separate grpc_stats counters
    see (envoyproxy/envoy source/common/grpc/context_impl.cc chargeStat)."""
    code = outcome.http if outcome.responded else 503
    return f'envoy_response_code_class="{code // 100}"'


def envoy_sidecar_series(scenario, server, local_app, client, *, unmeshed_inbound: bool = True,
                         flows=None) -> tuple[SeriesSet, SeriesSet, SeriesSet]:
    """An Envoy sidecar mesh's three views of every flow: the server's inbound listener (unmeshed callers
    included when `unmeshed_inbound`), the server proxy's cluster to its local app (never to be counted),
    and the caller's upstream cluster (meshed callers only). `server`, `local_app`, `client` render a
    flow's label set for each view; `flows` defaults to the scenario's."""
    ips = {k: pod_ip(i) for k, i in scenario.pod_index().items()}
    inbound, local, upstream = SeriesSet(), SeriesSet(), SeriesSet()
    for flow in scenario.flows if flows is None else flows:
        if flow.source is None and not unmeshed_inbound:
            continue
        inbound.add(server(flow, ips), flow, scenario.step)
        local.add(local_app(flow, ips), flow, scenario.step)
        if flow.source is not None:
            upstream.add(client(flow, ips), flow, scenario.step)
    return inbound, local, upstream

