"""`queries check` prerequisites: what a mesh's own series tell about its configuration.

A pack can only be as right as the mesh's setup lets it be: Consul exports request metrics only for
services whose protocol is http/http2/grpc, Kuma names workloads by ServiceAccount unless told
otherwise, older Hubble has no workload kinds. Each diagnosis reads a few series (instant queries and
label-name lookups, label names and values from the pack's mesh, never from a user) and reports
findings; the upstream source of each fact is named next to it and in docs/meshes.md.
"""
from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from metrics_api.core.errors import ApiError
from metrics_api.store.prometheus import Series, matched

SHOWN = 5   # names listed per finding


class Level(Enum):
    INFO = "info"
    WARN = "warn"


@dataclass(frozen=True)
class Finding:
    level: Level
    text: str


class Store(Protocol):
    async def query(self, promql: str, at: float, timeout: float) -> list[Series]: ...

    async def label_names(self, selector: str, start: float, end: float, timeout: float) -> list[str]: ...


@dataclass(frozen=True)
class Probe:
    store: Store
    at: float
    lookback: float
    timeout: float

    async def series(self, promql: str) -> list[dict[str, str]]:
        return [item["metric"] for item in await self.store.query(promql, self.at, self.timeout)]

    async def labels(self, selector: str) -> set[str]:
        names = await self.store.label_names(selector, self.at - self.lookback, self.at, self.timeout)
        return set(names) if matched(names) else set()


def _some(names: list[str]) -> str:
    names = sorted(names)
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


# -- Consul ------------------------------------------------------------------------------------------

CONSUL_HTTP = 'envoy_http_downstream_rq_xx{envoy_http_conn_manager_prefix="public_listener"}'


async def consul(probe: Probe) -> list[Finding]:
    findings = []
    # protocol tcp (the default: consul agent/xds/config/config.go ParseProxyConfig) makes the public
    # listener a tcp_proxy: connection stats only, no envoy_http_* at all
    tcp_only = await probe.series(
        'group by (consul_source_service, namespace) (envoy_tcp_downstream_cx_total{envoy_tcp_prefix="public_listener"})'
        " unless on (consul_source_service, namespace) group by (consul_source_service, namespace) "
        f"({CONSUL_HTTP})")
    if tcp_only:
        names = [f"{m.get('namespace', '?')}/{m.get('consul_source_service', '?')}" for m in tcp_only]
        findings.append(Finding(Level.WARN, f"{len(names)} service(s) export no HTTP stats (protocol tcp): "
                                f"{_some(names)}; create a ServiceDefaults with spec.protocol: http (or http2, grpc)"))
    # consul command/connect/envoy/bootstrap_config.go generateStatsTags: "default" without Consul namespaces
    pairs = await probe.series(f"group by (consul_source_namespace, namespace) ({CONSUL_HTTP})")
    consul_namespaces = {m.get("consul_source_namespace", "") for m in pairs}
    kube_namespaces = {m.get("namespace", "") for m in pairs}
    if consul_namespaces == {"default"} and kube_namespaces - {"default"}:
        findings.append(Finding(Level.WARN, "every Consul namespace is `default` (Consul CE, or Enterprise without "
                                "mirroringK8S) while pods run in other namespaces: peer namespaces of edges and "
                                "of Services seen by their callers are not Kubernetes namespaces"))
    return findings


# -- Kuma --------------------------------------------------------------------------------------------

KUMA_COUNTER = '__name__=~"envoy_http_downstream_rq_xx(_total)?"'
KUMA_INBOUND = 'envoy_http_conn_manager_prefix=~"self_inbound_.*|localhost_[0-9]+"'
# Outbound cluster names per naming mode (kuma pkg/plugins/runtime/k8s/util/util.go ServiceTag,
# pkg/xds/envoy/tags/match.go, destinationname.go ResolveLegacyFromKRI, pkg/core/kri/kri.go).
KUMA_CLUSTERS = {
    "legacy": re.compile(r"[a-z0-9-]+_[a-z0-9-]+_svc_[0-9]+(-[0-9a-f]{16})?"),
    "legacy MeshService": re.compile(r"[^_]+_[a-z0-9-]+_[a-z0-9-]+_[^_]*_msvc_[0-9]+"),
    "unified (KRI)": re.compile(r"kri_msvc_.+"),
}
KUMA_LOCAL = re.compile(r"localhost_[0-9]+|self_.*")   # the proxy's own clusters: never read


async def kuma(probe: Probe) -> list[Finding]:
    findings = []
    inbound = await probe.series(f"group by (__name__, envoy_http_conn_manager_prefix) ({{{KUMA_COUNTER}, {KUMA_INBOUND}}})")
    # kuma pkg/core/naming/unified-naming/unified_naming.go: per dataplane, so a mesh may mix modes
    modes = {"unified" if m.get("envoy_http_conn_manager_prefix", "").startswith("self_") else "legacy" for m in inbound}
    if modes:
        findings.append(Finding(Level.INFO, f"inbound naming: {' and '.join(sorted(modes))}"))
    names = {m.get("__name__", "") for m in inbound}
    if len(names) > 1:
        findings.append(Finding(Level.WARN, f"counters stored as both {' and '.join(sorted(names))}: two pipelines "
                                "(kuma-dp's exporter and OTLP) scrape the same proxies, counts are doubled"))
    elif names:
        suffix = "with" if names.pop().endswith("_total") else "without"
        findings.append(Finding(Level.INFO, f"counters {suffix} _total"))
    # `mesh` is added by kuma-dp in both modes (meshmetric plugin.go): other Envoy meshes' clusters lack it
    clusters = await probe.series('group by (envoy_cluster_name) ({__name__=~"envoy_cluster_upstream_rq_xx(_total)?", mesh!=""})')
    by_mode: dict[str, int] = {}
    unparsed = []
    for m in clusters:
        name = m.get("envoy_cluster_name", "")
        mode = next((mode for mode, pattern in KUMA_CLUSTERS.items() if pattern.fullmatch(name)), None)
        if mode is not None:
            by_mode[mode] = by_mode.get(mode, 0) + 1
        elif not KUMA_LOCAL.fullmatch(name):
            unparsed.append(name)
    if by_mode:
        findings.append(Finding(Level.INFO, "outbound clusters: " + ", ".join(f"{n} {mode}" for mode, n in sorted(by_mode.items()))))
    if unparsed:
        findings.append(Finding(Level.WARN, f"{len(unparsed)} outbound cluster name(s) in no known naming scheme "
                                f"(not served): {_some(unparsed)}"))
    findings += _kuma_workloads(await probe.series(
        f"group by (namespace, kuma_workload, pod) ({{{KUMA_COUNTER}, {KUMA_INBOUND}, kuma_workload!=\"\"}})"))
    return findings


def _kuma_workloads(rows: list[dict[str, str]]) -> list[Finding]:
    """kuma_workload is the first KUMA_RUNTIME_KUBERNETES_WORKLOAD_LABELS label of the pod, else its
    ServiceAccount (kuma pkg/plugins/runtime/k8s/controllers/pod_converter.go computeWorkloadName). A
    workload's pods are named after it; a ServiceAccount's pods need not be."""
    pods: dict[tuple[str, str], list[str]] = {}
    for m in rows:
        pods.setdefault((m.get("namespace", ""), m["kuma_workload"]), []).append(m.get("pod", ""))
    suspicious = [f"{namespace}/{workload}" for (namespace, workload), names in pods.items()
                  if workload == "default" or not all(pod.startswith(workload + "-") for pod in names)]
    if not suspicious:
        return []
    return [Finding(Level.WARN, f"kuma_workload looks like a ServiceAccount for {len(suspicious)} of {len(pods)} "
                    f"workload(s): {_some(suspicious)} (pods not named after it, or `default`); workloads sharing "
                    "a ServiceAccount are merged: set KUMA_RUNTIME_KUBERNETES_WORKLOAD_LABELS (e.g. "
                    "app.kubernetes.io/name,app) on the control plane")]


# -- Cilium / Hubble ---------------------------------------------------------------------------------


async def cilium(probe: Probe) -> list[Finding]:
    # labelsContext decides which context labels exist (cilium pkg/hubble/metrics/api/context.go);
    # *_workload_kind is documented from Cilium 1.18 (Documentation/observability/metrics.rst)
    present = await probe.labels('hubble_http_requests_total{reporter="server"}')
    if not present:
        return []
    if "destination_workload" not in present:
        return [Finding(Level.WARN, "Hubble's labelsContext has no destination_workload: workloads cannot be served "
                        "(add source_workload,destination_workload to httpV2's labelsContext)")]
    if "destination_workload_kind" not in present:
        return [Finding(Level.WARN, "Hubble without workload kinds (Cilium < 1.18, or labelsContext without "
                        "source_workload_kind,destination_workload_kind): workloads are answered whatever kind is "
                        "asked, peers are reported as Deployments")]
    return [Finding(Level.INFO, "Hubble workload kinds present")]


# -- Istio, Linkerd ----------------------------------------------------------------------------------


async def istio(probe: Probe) -> list[Finding]:
    # reporter="waypoint": ambient waypoints (istio/proxy istio_stats.cc; istio pilot/pkg/model/telemetry.go)
    if await probe.series('count(istio_requests_total{reporter="waypoint"})'):
        return [Finding(Level.INFO, "ambient waypoints report server-side numbers (reporter=\"waypoint\"); pods "
                        "behind a waypoint cannot be measured (its series carry the waypoint's pod)")]
    return []


async def linkerd(probe: Probe) -> list[Finding]:
    # linkerd2-proxy classifies only gRPC 2,4,7,13,14,15 as failures
    # (linkerd/proxy/client-policy/src/grpc.rs `impl Default for Codes`)
    if await probe.series('count(response_total{grpc_status=~"[1-9]|1[0-6]", classification="success"})'):
        return [Finding(Level.INFO, "gRPC statuses Linkerd classifies as success (e.g. NOT_FOUND) are failures here "
                        "(non-OK gRPC status)")]
    return []


DIAGNOSES: dict[str, Callable[[Probe], Awaitable[list[Finding]]]] = {
    "consul": consul, "kuma": kuma, "cilium": cilium, "istio": istio, "linkerd": linkerd,
}


async def diagnose(mesh: str, probe: Probe) -> list[Finding]:
    """What the series say about `mesh`'s prerequisites (nothing for a mesh without diagnoses)."""
    found = DIAGNOSES.get(mesh)
    if found is None:
        return []
    try:
        return await found(probe)
    except ApiError as error:   # a store that cannot answer is a finding, not a crash of the tool
        return [Finding(Level.WARN, f"prerequisites not checked: {error.code} {error.message[:200]}")]
