"""Cilium / Hubble renderer: ``httpV2`` metrics with ``labelsContext`` = namespace, workload,
workload_kind and pod of both sides (``hubble_http_requests_total``,
``hubble_http_request_duration_seconds``), served by the Cilium agent of each node.

``reporter="server"`` is recorded by the agent on the destination pod's node (external callers have
empty ``source_*`` labels), ``reporter="client"`` by the agent on the source pod's node.  The scrape
labels ``namespace``/``pod`` describe that *agent* (``kube-system``/``cilium-…``), not the workload.
Latency is in seconds with client_golang's default buckets; the histogram has no ``status``."""

from __future__ import annotations

from collections.abc import Iterator

from .families import counters, histograms
from .openmetrics import Family, SeriesSet, format_go_le, render_labels
from .scenario import PodRef, Scenario

BUCKETS_MS: tuple[float, ...] = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
LES = tuple(format_go_le(b / 1000) for b in BUCKETS_MS)
NODES = 3


def _context(prefix: str, p: PodRef | None) -> list[tuple[str, str]]:
    if p is None:   # a caller outside the cluster: Hubble knows no namespace, workload or pod
        return [(f"{prefix}_{k}", "") for k in ("namespace", "workload", "workload_kind", "pod")]
    w = p.workload
    return [(f"{prefix}_namespace", p.namespace), (f"{prefix}_workload", w.name),
            (f"{prefix}_workload_kind", w.kind), (f"{prefix}_pod", p.pod)]


def _agent(node: int) -> list[tuple[str, str]]:
    return [("job", "hubble-metrics"), ("instance", f"172.18.0.{node + 2}:9965"),
            ("namespace", "kube-system"), ("pod", f"cilium-node{node}")]


def _labels(fl, reporter: str, nodes) -> str:
    reporting = fl.destination if reporter == "server" else fl.source
    lab = _context("source", fl.source) + _context("destination", fl.destination)
    lab += [("method", "GET"), ("reporter", reporter)]
    return render_labels(lab + _agent(nodes[(reporting.namespace, reporting.pod)]))


def families(scenario: Scenario) -> Iterator[Family]:
    nodes = {k: i % NODES for k, i in scenario.pod_index().items()}
    series = SeriesSet()
    for fl in scenario.flows:
        series.add(_labels(fl, "server", nodes), fl, scenario.step)
        if fl.source is not None:
            series.add(_labels(fl, "client", nodes), fl, scenario.step)
    statuses = (lambda code: f'protocol="HTTP/1.1",status="{code}"')
    yield Family("hubble_http_requests", "counter", "", counters(series, statuses))
    yield Family("hubble_http_request_duration_seconds", "histogram", "",
                 histograms(series, BUCKETS_MS, les=LES, unit_ms=1000.0))
