"""Counter and histogram series from a SeriesSet, shared by the renderers whose status labels are
one label appended to the base label string (Envoy's response code class, Hubble's status, ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from .openmetrics import Counter, Histogram, SeriesSet, linear_histogram
from .scenario import BASE_STEPS, IDLE_OFFSET, pod_ip

Cells = list[tuple[float, int]]
StatusLabels = Callable[[int], str]   # HTTP code → rendered status label(s), e.g. 'status="500"'


def _grouped(series: SeriesSet, status: StatusLabels | None) -> Iterator[tuple[str, Cells]]:
    """(labels, cells) per series: one per status when `status` is given, else statuses merged."""
    for labels, by_status in series.items():
        if status is None:
            yield labels, [cell for cells in by_status.values() for cell in cells]
            continue
        for code, cells in sorted(by_status.items()):
            yield f"{labels},{status(code)}", cells


def counters(series: SeriesSet, status: StatusLabels | None = None) -> Iterator[Counter]:
    for labels, cells in _grouped(series, status):
        yield Counter(labels, sum(BASE_STEPS * c + IDLE_OFFSET for _, c in cells), sum(c for _, c in cells))


def histograms(
    series: SeriesSet,
    bounds_ms: Sequence[float],
    status: StatusLabels | None = None,
    *,
    les: Sequence[str] | None = None,
    unit_ms: float = 1.0,
    observe: Callable[[float], float] = float,
) -> Iterator[Histogram]:
    """`observe` maps a true latency to what the proxy records (e.g. OSM truncates to whole ms)."""
    for labels, cells in _grouped(series, status):
        observed = [(observe(ms), c) for ms, c in cells]
        yield linear_histogram(labels, bounds_ms, observed, BASE_STEPS, IDLE_OFFSET, les, unit_ms)


def envoy_class(code: int) -> str:
    return f'envoy_response_code_class="{code // 100}"'


def envoy_sidecar_series(scenario, server, local_app, client) -> tuple[SeriesSet, SeriesSet, SeriesSet]:
    """An Envoy sidecar mesh's three views of every flow: the server's inbound listener, the server
    proxy's cluster to its local app (never to be counted), and the caller's upstream cluster (meshed
    callers only). `server`, `local_app`, `client` render a flow's label set for each view."""
    ips = {k: pod_ip(i) for k, i in scenario.pod_index().items()}
    inbound, local, upstream = SeriesSet(), SeriesSet(), SeriesSet()
    for flow in scenario.flows:
        inbound.add(server(flow, ips), flow, scenario.step)
        local.add(local_app(flow, ips), flow, scenario.step)
        if flow.source is not None:
            upstream.add(client(flow, ips), flow, scenario.step)
    return inbound, local, upstream

