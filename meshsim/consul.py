"""Consul service mesh (consul-k8s, Envoy sidecars) renderer: Envoy stats with Consul's stats tags, as
scraped by the prometheus-community `kubernetes-pods` job (scrape labels of the reporting pod).

Server side, on the destination pod: ``envoy_http_downstream_rq_xx`` / ``_completed`` and the
``envoy_http_downstream_rq_time`` histogram with ``envoy_http_conn_manager_prefix="public_listener"``;
``consul_source_service`` is the proxy's *own* service.  Client side, on the source pod:
``envoy_cluster_upstream_rq_xx`` / ``_total`` and ``envoy_cluster_upstream_rq_time`` per upstream with
``consul_destination_*``; plus the proxy → local app cluster (``envoy_cluster_name="local_app"``),
which repeats every inbound request and must never be counted.  Consul namespaces mirror Kubernetes
namespaces (consul-k8s ``mirroringK8S``).  Envoy prints ``le`` as plain numbers."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

from .families import counters, envoy_class, envoy_sidecar_series, histograms
from .openmetrics import Family, render_labels
from .scenario import PodRef, Scenario

BUCKETS_MS: tuple[float, ...] = (
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
    30000, 60000, 300000, 600000, 1800000, 3600000,
)  # fmt: skip

DATACENTER = "dc1"
TRUST_DOMAIN = "5d3e9c1a-2b7f-4e0c-9a61-0f3b2c7d8e4a"


def _proxy(p: PodRef, ip: str) -> list[tuple[str, str]]:
    """Tags on every stat of p's proxy, then the scrape labels of p."""
    svc = p.workload.service
    return [
        ("consul_source_service", svc), ("consul_source_namespace", p.namespace),
        ("consul_source_partition", "default"), ("consul_source_datacenter", DATACENTER), ("local_cluster", svc),
        ("job", "kubernetes-pods"), ("instance", f"{ip}:20200"), ("namespace", p.namespace), ("pod", p.pod),
        ("app", p.workload.labels.get("app", p.workload.name)),
    ]  # fmt: skip


def _server(fl, ips) -> str:
    d = fl.destination
    return render_labels([("envoy_http_conn_manager_prefix", "public_listener")] + _proxy(d, ips[(d.namespace, d.pod)]))


def _local_app(fl, ips) -> str:
    d = fl.destination
    return render_labels([("envoy_cluster_name", "local_app")] + _proxy(d, ips[(d.namespace, d.pod)]))


def _client(fl, ips) -> str:
    s, d = fl.source, fl.destination
    svc = d.workload.service
    upstream = [
        ("envoy_cluster_name", svc), ("consul_destination_service", svc),
        ("consul_destination_namespace", d.namespace), ("consul_destination_partition", "default"),
        ("consul_destination_datacenter", DATACENTER), ("consul_destination_routing_type", "internal"),
        ("consul_destination_trust_domain", TRUST_DOMAIN),
        ("consul_destination_target", f"{svc}.{d.namespace}.{DATACENTER}"),
    ]  # fmt: skip
    return render_labels(upstream + _proxy(s, ips[(s.namespace, s.pod)]))


def families(scenario: Scenario) -> Iterator[Family]:
    server, local_app, client = envoy_sidecar_series(scenario, _server, _local_app, _client)
    yield Family("envoy_http_downstream_rq_xx", "unknown", "", counters(server, envoy_class))
    yield Family("envoy_http_downstream_rq_completed", "unknown", "", counters(server))
    yield Family("envoy_http_downstream_rq_time", "histogram", "", histograms(server, BUCKETS_MS))
    yield Family("envoy_cluster_upstream_rq_xx", "unknown", "", chain(counters(client, envoy_class),
                                                                     counters(local_app, envoy_class)))
    yield Family("envoy_cluster_upstream_rq_total", "unknown", "", counters(client))
    yield Family("envoy_cluster_upstream_rq_time", "histogram", "", histograms(client, BUCKETS_MS))

