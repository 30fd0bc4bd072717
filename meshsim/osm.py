"""Open Service Mesh renderer: the WASM stats extension's ``osm_request_total`` and
``osm_request_duration_ms`` as stored after OSM's ``smi-metrics`` scrape job relabels them.

Only the calling (outbound) sidecar records, so unmeshed callers leave no series at all.  Label
values went through a metric name, whose characters outside ``[a-zA-Z0-9_]`` Envoy's Prometheus output
replaces with ``_`` (envoyproxy/envoy source/server/admin/prometheus_stats.cc sanitizeName): ``-`` and
``.`` alike (``web-5f…`` → ``web_5f…``, ``a.b`` → ``a_b``).  The histogram has no ``response_code`` and
records whole milliseconds (integer-truncated).

Outcomes (osm wasm/stats.cc): ``osm_request_total`` is incremented in onResponseHeaders only, with
``response_code`` = ``:status`` — a request without a response is not counted and a gRPC answer is its
HTTP 200; the duration histogram is recorded in onDone for every request, with the destination labels
taken from the response headers, so without a response it has none."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from itertools import chain

from .families import counters, histograms, responded
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
    return re.sub(r"[^A-Za-z0-9_]", "_", value)


def _side(prefix: str, p: PodRef) -> list[tuple[str, str]]:
    w = p.workload
    return [(f"{prefix}_namespace", mangle(p.namespace)), (f"{prefix}_kind", w.kind),
            (f"{prefix}_name", mangle(w.name)), (f"{prefix}_pod", mangle(p.pod))]


def _labels(fl, ips, destination: bool = True) -> str:
    s = fl.source
    scrape = [("job", "smi-metrics"), ("instance", f"{ips[(s.namespace, s.pod)]}:15010")]
    peer = _side("destination", fl.destination) if destination else []
    return render_labels(_side("source", s) + peer + scrape)


def families(scenario: Scenario) -> Iterator[Family]:
    ips = {k: pod_ip(i) for k, i in scenario.pod_index().items()}
    client, unanswered = SeriesSet(), SeriesSet()
    for fl in scenario.flows:
        if fl.source is not None:
            client.add(_labels(fl, ips), fl, scenario.step)
            unanswered.add(_labels(fl, ips, destination=False), fl, scenario.step)
    yield Family("osm_request", "counter", "",
                 counters(client, lambda outcome: f'response_code="{outcome.http}"', recorded=responded))
    yield Family("osm_request_duration_ms", "histogram", "", chain(
        histograms(client, BUCKETS_MS, observe=observe, recorded=responded),
        histograms(unanswered, BUCKETS_MS, observe=observe, recorded=lambda outcome: not outcome.responded)))
