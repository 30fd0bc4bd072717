"""Kuma renderer (MeshMetric path: kuma-dp re-exports Envoy stats with ``mesh`` and ``kuma_workload``;
job ``kuma-dataplanes`` adds ``namespace``/``pod`` of the dataplane). Each variant renders alone:

* naming (``unified``): kuma pkg/core/naming/unified-naming/unified_naming.go, per dataplane.
  - legacy: inbound HCM prefix and local cluster ``localhost_<port>`` (kuma
    pkg/xds/envoy/names/resource_names.go GetLocalClusterName, sanitised by
    pkg/util/xds/metric_sanitizer.go); outbound cluster = the service tag ``<svc>_<ns>_svc_<port>``
    (pkg/plugins/runtime/k8s/util/util.go ServiceTag), with ``-<16 hex>`` for a split
    (pkg/xds/envoy/tags/match.go splitClusterFmtString); extra labels ``dataplane``, ``kuma_io_service``
    (meshmetric plugin.go adds the dataplane's tags in legacy mode only).
  - unified: inbound ``self_inbound_dp_<section>`` (pkg/core/naming/contextual.go
    ContextualInboundName; section = the port's name), outbound KRI
    ``kri_msvc_<mesh>_<zone>_<namespace>_<name>_<section>`` (pkg/core/kri/kri.go Identifier.String; zone
    empty without a ``kuma.io/zone`` label), ``kuma_proxy_role="sidecar"``.
* ``total``: counters with ``_total`` (an OTLP pipeline appends it) or without (kuma-dp's own exporter,
  app/kuma-dp/pkg/dataplane/metrics/server.go: UnderscoreEscapingWithoutSuffixes).
* ``workload_label``: ``kuma_workload`` is the pod's first configured workload label (here ``app``),
  else its ServiceAccount (pkg/plugins/runtime/k8s/controllers/pod_converter.go computeWorkloadName;
  KUMA_RUNTIME_KUBERNETES_WORKLOAD_LABELS empty by default).
* ``zone``: the ``zone`` label and the KRI zone segment.

The server pod also has the proxy → local app cluster, which repeats every inbound request and must
never be counted. kuma-dp prints ``le`` as Go does (``1.8e+06``: testdata/histogram.out)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from itertools import chain

from .families import counters, envoy_class, envoy_sidecar_series, histograms
from .openmetrics import Family, format_go_le, render_labels
from .scenario import PodRef, Scenario, Workload

BUCKETS_MS: tuple[float, ...] = (
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
    30000, 60000, 300000, 600000, 1800000, 3600000,
)  # fmt: skip
LES = tuple(format_go_le(b) for b in BUCKETS_MS)
PORT = 8080
PORT_NAME = "http"
MESH = "default"
SPLIT_KINDS = frozenset({"StatefulSet"})   # destinations reached through a split (hash-suffixed) cluster


class _Variant:
    def __init__(self, unified: bool, workload_label: str | None, zone: str) -> None:
        self.unified, self.workload_label, self.zone = unified, workload_label, zone

    def workload(self, w: Workload) -> str:
        if self.workload_label and w.labels.get(self.workload_label):
            return w.labels[self.workload_label]
        return w.service_account

    def service_tag(self, p: PodRef) -> str:
        return f"{p.workload.service}_{p.namespace}_svc_{PORT}"

    def dataplane(self, p: PodRef, ip: str) -> list[tuple[str, str]]:
        out = [("mesh", MESH)]
        if self.zone:
            out.append(("zone", self.zone))
        if self.unified:
            out += [("kuma_workload", self.workload(p.workload)), ("kuma_proxy_role", "sidecar")]
        else:
            out += [("dataplane", f"{p.pod}.{p.namespace}"), ("kuma_io_service", self.service_tag(p)),
                    ("kuma_workload", self.workload(p.workload))]
        return out + [("job", "kuma-dataplanes"), ("instance", f"{ip}:5670"), ("namespace", p.namespace), ("pod", p.pod)]

    def inbound(self) -> str:
        return f"self_inbound_dp_{PORT_NAME}" if self.unified else f"localhost_{PORT}"

    def upstream(self, d: PodRef) -> str:
        if self.unified:
            return f"kri_msvc_{MESH}_{self.zone}_{d.namespace}_{d.workload.service}_{PORT_NAME}"
        tag = self.service_tag(d)
        if d.workload.kind in SPLIT_KINDS:
            return f"{tag}-{hashlib.sha256(tag.encode()).hexdigest()[:16]}"
        return tag

    def server(self, fl, ips) -> str:
        d = fl.destination
        return render_labels([("envoy_http_conn_manager_prefix", self.inbound())] + self.dataplane(d, ips[(d.namespace, d.pod)]))

    def local_app(self, fl, ips) -> str:
        d = fl.destination
        # the local cluster is named like the inbound listener in both modes
        return render_labels([("envoy_cluster_name", self.inbound())] + self.dataplane(d, ips[(d.namespace, d.pod)]))

    def client(self, fl, ips) -> str:
        s = fl.source
        return render_labels([("envoy_cluster_name", self.upstream(fl.destination))] + self.dataplane(s, ips[(s.namespace, s.pod)]))


def families(scenario: Scenario, unified: bool = True, total: bool = False, workload_label: str | None = None,
             zone: str = "") -> Iterator[Family]:
    variant = _Variant(unified, workload_label, zone)
    server, local_app, client = envoy_sidecar_series(scenario, variant.server, variant.local_app, variant.client)
    kind = "counter" if total else "unknown"   # "unknown": the sample keeps Envoy's name, no _total
    yield Family("envoy_http_downstream_rq_xx", kind, "", counters(server, envoy_class))
    yield Family("envoy_http_downstream_rq_time", "histogram", "", histograms(server, BUCKETS_MS, les=LES))
    yield Family("envoy_cluster_upstream_rq_xx", kind, "",
                 chain(counters(client, envoy_class), counters(local_app, envoy_class)))
    yield Family("envoy_cluster_upstream_rq_time", "histogram", "", histograms(client, BUCKETS_MS, les=LES))
