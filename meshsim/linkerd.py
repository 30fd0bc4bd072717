"""Linkerd (2.x legacy proxy metrics) renderer: request_total, response_total,
response_latency_ms, as stored by linkerd-viz' Prometheus (scrape labels included)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .families import counters, histograms, responded
from .openmetrics import Family, SeriesSet, render_labels
from .scenario import Outcome, PodRef, Scenario, pod_ip

BUCKETS_MS: tuple[float, ...] = (
    1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500,
    1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000,
)  # fmt: skip

OWNER_LABEL = {"Deployment": "deployment", "StatefulSet": "statefulset", "DaemonSet": "daemonset", "Job": "k8s_job"}
PORT = 8080
CONTROL_PLANE_NS = "linkerd"


def _sanitize(key: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)


def identity(p: PodRef) -> str:
    return f"{p.workload.service_account}.{p.namespace}.serviceaccount.identity.linkerd.cluster.local"


def scrape_labels(p: PodRef, ip: str) -> list[tuple[str, str]]:
    w = p.workload
    out = [("job", "linkerd-proxy"), ("instance", f"{ip}:4191"), ("namespace", p.namespace), ("pod", p.pod)]
    out.append((OWNER_LABEL[w.kind], w.name))
    if w.pod_template_hash:
        out.append(("pod_template_hash", w.pod_template_hash))
    taken = {k for k, _ in out} | {"control_plane_ns", "workload_ns"}
    out += [(_sanitize(k), v) for k, v in sorted(w.labels.items()) if _sanitize(k) not in taken]
    out += [("control_plane_ns", CONTROL_PLANE_NS), ("workload_ns", p.namespace)]
    return out


def _inbound(fl, ips) -> str:
    d = fl.destination
    ip = ips[(d.namespace, d.pod)]
    lab = [("direction", "inbound"), ("target_addr", f"{ip}:{PORT}"), ("target_ip", ip), ("target_port", str(PORT))]
    if fl.source is None:
        lab += [("tls", "no_identity"), ("no_tls_reason", "no_tls_from_remote")]
    else:
        lab += [("tls", "true"), ("client_id", identity(fl.source))]
    lab += [
        ("srv_group", ""), ("srv_kind", "default"), ("srv_name", "all-unauthenticated"), ("srv_port", str(PORT)),
        ("route_group", ""), ("route_kind", "default"), ("route_name", "default"),
        ("authz_group", ""), ("authz_kind", "default"), ("authz_name", "all-unauthenticated"),
    ]  # fmt: skip
    return render_labels(lab + scrape_labels(d, ip))


def _outbound(fl, ips) -> str:
    s, d = fl.source, fl.destination
    dw = d.workload
    dip = ips[(d.namespace, d.pod)]
    lab = [
        ("direction", "outbound"),
        ("authority", f"{dw.service}.{d.namespace}.svc.cluster.local:{PORT}"),
        ("target_addr", f"{dip}:{PORT}"), ("target_ip", dip), ("target_port", str(PORT)),
        ("tls", "true"), ("server_id", identity(d)),
        ("dst_control_plane_ns", CONTROL_PLANE_NS),
        (f"dst_{OWNER_LABEL[dw.kind]}", dw.name),
        ("dst_namespace", d.namespace), ("dst_pod", d.pod),
    ]  # fmt: skip
    if dw.pod_template_hash:
        lab.append(("dst_pod_template_hash", dw.pod_template_hash))
    lab += [("dst_service", dw.service), ("dst_serviceaccount", dw.service_account)]
    return render_labels(lab + scrape_labels(s, ips[(s.namespace, s.pod)]))


# gRPC statuses Linkerd's default classifier calls failures: DataLoss, DeadlineExceeded, Internal,
# PermissionDenied, Unavailable, Unknown (linkerd2-proxy linkerd/proxy/client-policy/src/grpc.rs
# `impl Default for Codes`); any other status is classification="success" there.
GRPC_FAILURES = frozenset({15, 4, 13, 7, 14, 2})
NO_RESPONSE_ERROR = "timeout"   # linkerd/app/core/src/classify.rs Response::error


def _class_labels(outcome: Outcome) -> str:
    """response_total's labels for one outcome (linkerd2-proxy linkerd/app/core/src/metrics.rs
    `impl legacy::FmtLabels for Class`; linkerd/http/metrics/src/requests/report.rs fmt_by_class writes
    status_code only when there was a response)."""
    if not outcome.responded:
        return render_labels([("classification", "failure"), ("grpc_status", ""), ("error", NO_RESPONSE_ERROR)])
    if outcome.grpc is not None:
        failed = outcome.grpc in GRPC_FAILURES
    else:
        failed = outcome.http >= 500
    return render_labels([("status_code", str(outcome.http)), ("classification", "failure" if failed else "success"),
                          ("grpc_status", "" if outcome.grpc is None else str(outcome.grpc)), ("error", "")])


def families(scenario: Scenario) -> Iterator[Family]:
    ips = {k: pod_ip(i) for k, i in scenario.pod_index().items()}
    series = SeriesSet()
    for fl in scenario.flows:
        series.add(_inbound(fl, ips), fl, scenario.step)
        if fl.source is not None:
            series.add(_outbound(fl, ips), fl, scenario.step)

    yield Family("request", "counter", "Total count of HTTP requests.", counters(series))
    yield Family("response", "counter", "Total count of HTTP responses.", counters(series, _class_labels))
    # response_latency_ms is written by status only: requests without a response are not observed
    # (notes/fidelity.md §9.6: not read in source; rendered as absent).
    yield Family(
        "response_latency_ms", "histogram", "Elapsed times between a request's headers being received and its response stream completing",
        histograms(series, BUCKETS_MS, lambda outcome: f'status_code="{outcome.http}"', recorded=responded),
    )
