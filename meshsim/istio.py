"""Istio (telemetry v2) renderer: istio_requests_total and istio_request_duration_milliseconds with
kubernetes-pods scrape labels. Two variants, each rendered alone:

* sidecars (``ambient=False``): reporter="destination" on the server pod, reporter="source" on the
  (meshed) client pod;
* ambient with waypoints (``ambient=True``, or only ``ambient_namespaces``: a sidecar caller of an
  ambient service is then reported twice, reporter="source" and "waypoint"): ztunnel exports TCP
  metrics only, so every HTTP request to an ambient pod is reported once server-side, by the waypoint
  of the destination's namespace, with reporter="waypoint" and the
  waypoint pod's scrape labels (istio/proxy source/extensions/filters/http/istio_stats/istio_stats.cc
  IstioStatsFilter ctor: Reporter::ServerGateway → "waypoint"; istio/istio pilot/pkg/model/telemetry.go
  `if isWaypoint { cfg.Reporter = stats.Reporter_SERVER_GATEWAY }`; kiali
  graph/telemetry/istio/util/util.go GetReporter).

Outcomes (istio_stats.cc IstioStatsFilter::log): response_code = the HTTP status, "0" without a
response (`info.responseCode().value_or(0)`); grpc_response_status = the grpc-status of a gRPC answer,
"" otherwise; request_protocol = "grpc" or "http". The histogram observes every request."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from .families import counters, histograms
from .openmetrics import Family, SeriesSet, render_labels
from .scenario import NO_RESPONSE, Outcome, PodRef, Scenario, pod_ip

BUCKETS_MS: tuple[float, ...] = (
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
    30000, 60000, 300000, 600000, 1800000, 3600000,
)  # fmt: skip

CLUSTER = "Kubernetes"


def _peer(prefix: str, p: PodRef | None) -> list[tuple[str, str]]:
    if p is None:
        vals = ["unknown"] * 8
    else:
        w = p.workload
        app = w.labels.get("app", "unknown")
        vals = [
            w.name,
            p.namespace,
            f"spiffe://cluster.local/ns/{p.namespace}/sa/{w.service_account}",
            app,
            w.labels.get("version", "unknown"),
            w.labels.get("service.istio.io/canonical-name", app),
            w.labels.get("service.istio.io/canonical-revision", "latest"),
            CLUSTER,
        ]
    keys = ["workload", "workload_namespace", "principal", "app", "version", "canonical_service", "canonical_revision", "cluster"]
    return [(f"{prefix}_{k}", v) for k, v in zip(keys, vals)]


def _scrape(p: PodRef, ip: str) -> list[tuple[str, str]]:
    w = p.workload
    out = [("job", "kubernetes-pods"), ("instance", f"{ip}:15020"), ("namespace", p.namespace), ("pod", p.pod)]
    out.append(("app", w.labels.get("app", w.name)))
    if w.pod_template_hash:
        out.append(("pod_template_hash", w.pod_template_hash))
    out.append(("security_istio_io_tlsMode", "istio"))
    return out


def _waypoint(namespace: str) -> list[tuple[str, str]]:
    """Scrape labels of the namespace's waypoint (a Deployment named `waypoint`, gateway class
    istio-waypoint): on waypoint series `namespace`/`pod` are the waypoint's, never the workload's."""
    digest = hashlib.sha256(namespace.encode()).hexdigest()
    return [("job", "kubernetes-pods"), ("instance", f"10.43.0.{int(digest[:2], 16) % 250 + 2}:15020"),
            ("namespace", namespace), ("pod", f"waypoint-{digest[:9]}-{digest[9:14]}"),
            ("gateway_networking_k8s_io_gateway_name", "waypoint")]


def _labels(fl, reporter: str, ips) -> str:
    s, d = fl.source, fl.destination
    dw = d.workload
    lab = [("reporter", reporter)] + _peer("source", s) + _peer("destination", d)
    lab += [
        ("destination_service", f"{dw.service}.{d.namespace}.svc.cluster.local"),
        ("destination_service_name", dw.service),
        ("destination_service_namespace", d.namespace),
        ("request_protocol", fl.protocol.value),
    ]
    if reporter == "waypoint":
        tail = [("connection_security_policy", "mutual_tls")] + _waypoint(d.namespace)
    elif reporter == "destination":
        policy = "mutual_tls" if s is not None else "none"
        tail = [("connection_security_policy", policy)] + _scrape(d, ips[(d.namespace, d.pod)])
    else:
        tail = [("connection_security_policy", "unknown")] + _scrape(s, ips[(s.namespace, s.pod)])
    return render_labels(lab + tail)   # response_code / grpc_response_status / response_flags: per outcome


def _outcome(outcome: Outcome) -> str:
    flags = "-" if outcome.responded else "DC"   # downstream connection termination
    grpc = "" if outcome.grpc is None else str(outcome.grpc)
    return render_labels([("response_code", str(outcome.http if outcome.responded else NO_RESPONSE)),
                          ("grpc_response_status", grpc), ("response_flags", flags)])


def families(scenario: Scenario, ambient: bool = False, ambient_namespaces: frozenset[str] = frozenset()) -> Iterator[Family]:
    """``ambient``: every namespace ambient; else only ``ambient_namespaces`` (the rest has sidecars)."""
    ips = {k: pod_ip(i) for k, i in scenario.pod_index().items()}
    series = SeriesSet()
    for fl in scenario.flows:
        server = "waypoint" if ambient or fl.destination.namespace in ambient_namespaces else "destination"
        series.add(_labels(fl, server, ips), fl, scenario.step)
        # an ambient caller has no sidecar: ztunnel reports TCP only
        if fl.source is not None and not (ambient or fl.source.namespace in ambient_namespaces):
            series.add(_labels(fl, "source", ips), fl, scenario.step)
    yield Family("istio_requests", "counter", "", counters(series, _outcome))
    yield Family("istio_request_duration_milliseconds", "histogram", "", histograms(series, BUCKETS_MS, _outcome))
