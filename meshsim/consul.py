"""Consul service mesh (consul-k8s, Envoy sidecars) renderer: Envoy stats with Consul's stats tags, as
scraped by the prometheus-community `kubernetes-pods` job (scrape labels of the reporting pod).

Server side, on the destination pod: ``envoy_http_downstream_rq_xx`` / ``_completed`` and the
``envoy_http_downstream_rq_time`` histogram with ``envoy_http_conn_manager_prefix="public_listener"``;
``consul_source_service`` is the proxy's *own* service.  Client side, on the source pod:
``envoy_cluster_upstream_rq_xx`` / ``_total`` and ``envoy_cluster_upstream_rq_time`` per upstream with
``consul_destination_*``; plus the proxy → local app cluster (``envoy_cluster_name="local_app"``),
which repeats every inbound request and must never be counted.  Envoy prints ``le`` as plain numbers.

Unmeshed callers never reach ``public_listener``'s HTTP stats: strict mTLS (the default) rejects them,
permissive mTLS passes them through a TCP chain ``permissive_public_listener`` (consul-k8s
acceptance/tests/connect/permissive_mtls_test.go; consul agent/xds/listeners.go
makePermissiveFilterChain) — they are not rendered.

Variants: ``mirroring=True`` (Consul Enterprise with ``mirroringK8S``: Consul namespaces are Kubernetes
namespaces) or ``False`` (Consul CE: every ``consul_*_namespace`` is ``default``; consul
command/connect/envoy/bootstrap_config.go generateStatsTags). ``tcp_services``: services left at the
default protocol ``tcp`` (consul agent/xds/config/config.go ParseProxyConfig), which export no HTTP
stats at all, only ``envoy_tcp_downstream_cx_total{envoy_tcp_prefix="public_listener"}`` on the server and
``envoy_cluster_upstream_cx_total`` on callers."""

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
CE_NAMESPACE = "default"


class _Tags:
    def __init__(self, mirroring: bool) -> None:
        self.mirroring = mirroring

    def namespace(self, p: PodRef) -> str:
        return p.namespace if self.mirroring else CE_NAMESPACE

    def proxy(self, p: PodRef, ip: str) -> list[tuple[str, str]]:
        """Tags on every stat of p's proxy, then the scrape labels of p."""
        svc = p.workload.service
        return [
            ("consul_source_service", svc), ("consul_source_namespace", self.namespace(p)),
            ("consul_source_partition", "default"), ("consul_source_datacenter", DATACENTER), ("local_cluster", svc),
            ("job", "kubernetes-pods"), ("instance", f"{ip}:20200"), ("namespace", p.namespace), ("pod", p.pod),
            ("app", p.workload.labels.get("app", p.workload.name)),
        ]  # fmt: skip

    def server(self, fl, ips, prefix: str = "envoy_http_conn_manager_prefix") -> str:
        d = fl.destination
        return render_labels([(prefix, "public_listener")] + self.proxy(d, ips[(d.namespace, d.pod)]))

    def local_app(self, fl, ips) -> str:
        d = fl.destination
        return render_labels([("envoy_cluster_name", "local_app")] + self.proxy(d, ips[(d.namespace, d.pod)]))

    def client(self, fl, ips) -> str:
        s, d = fl.source, fl.destination
        svc, namespace = d.workload.service, self.namespace(d)
        upstream = [
            ("envoy_cluster_name", svc), ("consul_destination_service", svc),
            ("consul_destination_namespace", namespace), ("consul_destination_partition", "default"),
            ("consul_destination_datacenter", DATACENTER), ("consul_destination_routing_type", "internal"),
            ("consul_destination_trust_domain", TRUST_DOMAIN),
            ("consul_destination_target", f"{svc}.{namespace}.{DATACENTER}"),
        ]  # fmt: skip
        return render_labels(upstream + self.proxy(s, ips[(s.namespace, s.pod)]))


def families(scenario: Scenario, mirroring: bool = True, tcp_services: frozenset[str] = frozenset()) -> Iterator[Family]:
    tags = _Tags(mirroring)
    http = [fl for fl in scenario.flows if fl.destination.workload.service not in tcp_services]
    tcp = [fl for fl in scenario.flows if fl.destination.workload.service in tcp_services]
    server, local_app, client = envoy_sidecar_series(scenario, tags.server, tags.local_app, tags.client,
                                                     unmeshed_inbound=False, flows=http)
    yield Family("envoy_http_downstream_rq_xx", "unknown", "", counters(server, envoy_class))
    yield Family("envoy_http_downstream_rq_completed", "unknown", "", counters(server))
    yield Family("envoy_http_downstream_rq_time", "histogram", "", histograms(server, BUCKETS_MS))
    yield Family("envoy_cluster_upstream_rq_xx", "unknown", "", chain(counters(client, envoy_class),
                                                                     counters(local_app, envoy_class)))
    yield Family("envoy_cluster_upstream_rq_total", "unknown", "", counters(client))
    yield Family("envoy_cluster_upstream_rq_time", "histogram", "", histograms(client, BUCKETS_MS))
    if tcp:   # one connection per request, for simplicity
        tcp_server, _, tcp_client = envoy_sidecar_series(
            scenario, lambda fl, ips: tags.server(fl, ips, "envoy_tcp_prefix"), tags.local_app, tags.client,
            unmeshed_inbound=False, flows=tcp)
        yield Family("envoy_tcp_downstream_cx_total", "unknown", "", counters(tcp_server))
        yield Family("envoy_cluster_upstream_cx_total", "unknown", "", counters(tcp_client))
