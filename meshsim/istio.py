"""Istio (telemetry v2) renderer: istio_requests_total and
istio_request_duration_milliseconds, reporter="destination" on the server pod and
reporter="source" on the (meshed) client pod, with kubernetes-pods scrape labels."""

from __future__ import annotations

from collections.abc import Iterator

from .openmetrics import Counter, Family, SeriesSet, linear_histogram, render_labels
from .scenario import BASE_STEPS, IDLE_OFFSET, PodRef, Scenario, pod_ip

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


def _labels(fl, reporter: str, ips) -> str:
    s, d = fl.source, fl.destination
    dw = d.workload
    lab = [("reporter", reporter)] + _peer("source", s) + _peer("destination", d)
    lab += [
        ("destination_service", f"{dw.service}.{d.namespace}.svc.cluster.local"),
        ("destination_service_name", dw.service),
        ("destination_service_namespace", d.namespace),
        ("request_protocol", "http"),
    ]
    if reporter == "destination":
        policy = "mutual_tls" if s is not None else "none"
        rep = d
    else:
        policy = "unknown"
        rep = s
    # response_code / grpc_response_status / response_flags are appended per status
    tail = [("connection_security_policy", policy)] + _scrape(rep, ips[(rep.namespace, rep.pod)])
    return render_labels(lab) + "|" + render_labels(tail)


def _join(labels: str, code: int) -> str:
    head, tail = labels.split("|", 1)
    flags = "-"
    return f'{head},response_code="{code}",grpc_response_status="",response_flags="{flags}",{tail}'


def families(scenario: Scenario) -> Iterator[Family]:
    ips = {k: pod_ip(i) for k, i in scenario.pod_index().items()}
    series = SeriesSet()
    for fl in scenario.flows:
        series.add(_labels(fl, "destination", ips), fl, scenario.step)
        if fl.source is not None:
            series.add(_labels(fl, "source", ips), fl, scenario.step)

    def requests():
        for labels, by_status in series.items():
            for code, cells in sorted(by_status.items()):
                start = sum(BASE_STEPS * c + IDLE_OFFSET for _, c in cells)
                yield Counter(_join(labels, code), start, sum(c for _, c in cells))

    def durations():
        for labels, by_status in series.items():
            for code, cells in sorted(by_status.items()):
                yield linear_histogram(_join(labels, code), BUCKETS_MS, cells, BASE_STEPS, IDLE_OFFSET)

    yield Family("istio_requests", "counter", "", requests())
    yield Family("istio_request_duration_milliseconds", "histogram", "", durations())
