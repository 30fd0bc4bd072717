"""Counter and histogram series from a SeriesSet, shared by the renderers whose status labels are
one label appended to the base label string (Envoy's response code class, Hubble's status, ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from .openmetrics import Counter, Histogram, SeriesSet, linear_histogram
from .scenario import BASE_STEPS, IDLE_OFFSET

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
