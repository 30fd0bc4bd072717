"""Cilium / Hubble renderer: ``httpV2`` metrics with ``labelsContext`` = namespace, workload,
workload_kind and pod of both sides (``hubble_http_requests_total``,
``hubble_http_request_duration_seconds``), served by the Cilium agent of each node. Variant
``kinds=False``: agents before Cilium 1.18, or a labelsContext without ``*_workload_kind`` (cilium
pkg/hubble/metrics/api/context.go; Documentation/observability/metrics.rst).

``reporter="server"`` is recorded by the agent on the destination pod's node (external callers have
empty ``source_*`` labels, which Prometheus stores as absent), ``reporter="client"`` by the agent on the
source pod's node. Only response flows count (cilium pkg/hubble/metrics/http/handler.go): a request
without a response is not recorded, and ``status`` is the HTTP status, 200 for any gRPC answer.  The scrape
labels ``namespace``/``pod`` describe that *agent* (``kube-system``/``cilium-…``), not the workload.
Latency is in seconds with client_golang's default buckets; the histogram has no ``status``."""

from __future__ import annotations

from collections.abc import Iterator

from .families import counters, histograms, responded
from .openmetrics import Family, SeriesSet, format_go_le, render_labels
from .scenario import Outcome, PodRef, Protocol, Scenario

BUCKETS_MS: tuple[float, ...] = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
LES = tuple(format_go_le(b / 1000) for b in BUCKETS_MS)
NODES = 3


def _context(prefix: str, p: PodRef | None, kinds: bool) -> list[tuple[str, str]]:
    if p is None:   # a caller outside the cluster: empty context labels, absent once stored
        return []
    w = p.workload
    kind = [(f"{prefix}_workload_kind", w.kind)] if kinds else []
    return [(f"{prefix}_namespace", p.namespace), (f"{prefix}_workload", w.name), *kind, (f"{prefix}_pod", p.pod)]


def _agent(node: int) -> list[tuple[str, str]]:
    return [("job", "hubble-metrics"), ("instance", f"172.18.0.{node + 2}:9965"),
            ("namespace", "kube-system"), ("pod", f"cilium-node{node}")]


def _labels(fl, reporter: str, nodes, kinds: bool) -> str:
    reporting = fl.destination if reporter == "server" else fl.source
    lab = _context("source", fl.source, kinds) + _context("destination", fl.destination, kinds)
    lab += [("method", "POST" if fl.protocol is Protocol.GRPC else "GET"), ("reporter", reporter)]
    return render_labels(lab + _agent(nodes[(reporting.namespace, reporting.pod)]))


def _status(outcome: Outcome) -> str:
    protocol = "HTTP/2" if outcome.grpc is not None else "HTTP/1.1"
    return f'protocol="{protocol}",status="{outcome.http}"'


def families(scenario: Scenario, kinds: bool = True) -> Iterator[Family]:
    nodes = {k: i % NODES for k, i in scenario.pod_index().items()}
    series = SeriesSet()
    for fl in scenario.flows:
        series.add(_labels(fl, "server", nodes, kinds), fl, scenario.step)
        if fl.source is not None:
            series.add(_labels(fl, "client", nodes, kinds), fl, scenario.step)
    yield Family("hubble_http_requests", "counter", "", counters(series, _status, recorded=responded))
    yield Family("hubble_http_request_duration_seconds", "histogram", "",
                 histograms(series, BUCKETS_MS, les=LES, unit_ms=1000.0, recorded=responded))
