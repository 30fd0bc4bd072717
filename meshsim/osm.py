"""Open Service Mesh renderer: the WASM stats extension's ``osm_request_total`` and
``osm_request_duration_ms`` as stored after OSM's ``smi-metrics`` scrape job relabels them.

Only the calling (outbound) sidecar records, so unmeshed callers leave no series at all.  Label
values went through a metric name, so every ``-`` is an ``_`` (``web-5f…`` → ``web_5f…``).  The
histogram has no ``response_code`` and records whole milliseconds (integer-truncated)."""

from __future__ import annotations

import math
from collections.abc import Iterator

from .families import counters, histograms
from .openmetrics import Family, SeriesSet, render_labels
from .scenario import PodRef, Scenario, pod_ip

BUCKETS_MS: tuple[float, ...] = (
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
    30000, 60000, 300000, 600000, 1800000, 3600000,
)  # fmt: skip


def observe(ms: float) -> float:
    """What the WASM filter records for a request of `ms` milliseconds."""
    return float(math.floor(ms))


def mangle(value: str) -> str:
    return value.replace("-", "_")


def _side(prefix: str, p: PodRef) -> list[tuple[str, str]]:
    w = p.workload
    return [(f"{prefix}_namespace", mangle(p.namespace)), (f"{prefix}_kind", w.kind),
            (f"{prefix}_name", mangle(w.name)), (f"{prefix}_pod", mangle(p.pod))]


def _labels(fl, ips) -> str:
    s = fl.source
    scrape = [("job", "smi-metrics"), ("instance", f"{ips[(s.namespace, s.pod)]}:15010")]
    return render_labels(_side("source", s) + _side("destination", fl.destination) + scrape)


def families(scenario: Scenario) -> Iterator[Family]:
    ips = {k: pod_ip(i) for k, i in scenario.pod_index().items()}
    client = SeriesSet()
    for fl in scenario.flows:
        if fl.source is not None:
            client.add(_labels(fl, ips), fl, scenario.step)
    yield Family("osm_request", "counter", "", counters(client, lambda code: f'response_code="{code}"'))
    yield Family("osm_request_duration_ms", "histogram", "", histograms(client, BUCKETS_MS, observe=observe))
