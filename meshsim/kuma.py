"""Kuma renderer (MeshMetric path: kuma-dp re-exports Envoy stats, adds ``mesh`` and ``kuma_workload``,
and appends ``_total`` to counters; job ``kuma-dataplanes`` adds ``namespace``/``pod`` of the dataplane).

Server side, on the destination pod: ``envoy_http_downstream_rq_xx_total`` and
``envoy_http_downstream_rq_time`` with ``envoy_http_conn_manager_prefix="self_inbound_dp_8080"``.
Client side, on the source pod: ``envoy_cluster_upstream_rq_xx_total`` and
``envoy_cluster_upstream_rq_time`` with ``envoy_cluster_name="<svc>_<ns>_svc_8080"`` (the destination
*Service*, never its pods), plus the proxy → local app cluster ``localhost_8080`` on the server pod.
kuma-dp prints ``le`` as Go does (``1.8e+06``)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

from .families import counters, envoy_class, envoy_sidecar_series, histograms
from .openmetrics import Family, format_go_le, render_labels
from .scenario import PodRef, Scenario

BUCKETS_MS: tuple[float, ...] = (
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
    30000, 60000, 300000, 600000, 1800000, 3600000,
)  # fmt: skip
LES = tuple(format_go_le(b) for b in BUCKETS_MS)
PORT = 8080


def _dataplane(p: PodRef, ip: str) -> list[tuple[str, str]]:
    return [("mesh", "default"), ("kuma_workload", p.workload.name), ("job", "kuma-dataplanes"),
            ("instance", f"{ip}:5670"), ("namespace", p.namespace), ("pod", p.pod)]


def _server(fl, ips) -> str:
    d = fl.destination
    return render_labels([("envoy_http_conn_manager_prefix", f"self_inbound_dp_{PORT}")]
                         + _dataplane(d, ips[(d.namespace, d.pod)]))


def _local_app(fl, ips) -> str:
    d = fl.destination
    return render_labels([("envoy_cluster_name", f"localhost_{PORT}")] + _dataplane(d, ips[(d.namespace, d.pod)]))


def _client(fl, ips) -> str:
    s, d = fl.source, fl.destination
    cluster = f"{d.workload.service}_{d.namespace}_svc_{PORT}"
    return render_labels([("envoy_cluster_name", cluster)] + _dataplane(s, ips[(s.namespace, s.pod)]))


def families(scenario: Scenario) -> Iterator[Family]:
    server, local_app, client = envoy_sidecar_series(scenario, _server, _local_app, _client)
    yield Family("envoy_http_downstream_rq_xx", "counter", "", counters(server, envoy_class))
    yield Family("envoy_http_downstream_rq_time", "histogram", "", histograms(server, BUCKETS_MS, les=LES))
    yield Family("envoy_cluster_upstream_rq_xx", "counter", "",
                 chain(counters(client, envoy_class), counters(local_app, envoy_class)))
    yield Family("envoy_cluster_upstream_rq_time", "histogram", "", histograms(client, BUCKETS_MS, les=LES))
