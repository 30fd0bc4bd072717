"""What the autoscaling metrics APIs (custom.metrics.k8s.io, external.metrics.k8s.io) share: the metric
names (the SMI names), one number per metric from a measured Row, and the window a selector asks for.

"No value" is not zero: without requests in the window the counts and the request rate are truly 0,
but a success rate (0/0) or a latency quantile does not exist, and an autoscaler or canary controller
reading 0 there would act on a number nobody measured (CONTRACT §5)."""
from __future__ import annotations

from enum import StrEnum

from metrics_api.core.errors import ApiError, bad_request, not_found
from metrics_api.core.kinds import Kind, is_dns1123_label
from metrics_api.core.model import Measure, Row
from metrics_api.core.window import parse_window
from metrics_api.http.media import parse_accept
from metrics_api.kube.selectors import Selector, parse_selector

DEFAULT_WINDOW = 60.0
WINDOW_LABEL = "window"

# The object's API version, for `describedObject` (HPA's client maps it back to a kind through it).
API_VERSIONS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "ReplicaSet": "apps/v1",
                "Job": "batch/v1", "Pod": "v1", "Service": "v1", "Namespace": "v1"}


def object_group(kind: Kind) -> str:
    """The kind's own API group ("apps", "batch", "" for core), for NotFound messages about the object."""
    return API_VERSIONS[kind.name].rpartition("/")[0]


class Metric(StrEnum):
    REQUEST_RATE = "request_rate"
    SUCCESS_RATE = "success_rate"
    SUCCESS_COUNT = "success_count"
    FAILURE_COUNT = "failure_count"
    P50_LATENCY = "p50_response_latency"
    P90_LATENCY = "p90_response_latency"
    P99_LATENCY = "p99_response_latency"


_LATENCY = {Metric.P50_LATENCY: Measure.P50, Metric.P90_LATENCY: Measure.P90, Metric.P99_LATENCY: Measure.P99}


def check_namespace(namespace: str) -> None:
    if not is_dns1123_label(namespace):
        raise bad_request(f"invalid namespace {namespace!r}: a lowercase RFC 1123 label must consist of lower case "
                          "alphanumeric characters or '-', and must start and end with an alphanumeric character "
                          "(at most 63 characters)", name=namespace, kind="namespaces")


def metric_named(name: str, group: str, resource: str) -> Metric:
    """The metric `name`, or 404 naming what is served (checked before any query)."""
    try:
        return Metric(name)
    except ValueError:
        served = ", ".join(m.value for m in Metric)
        raise not_found(f"the server could not find the metric {name!r} for {resource} (served: {served})",
                        name=name, group=group, kind=resource) from None


def value_of(row: Row, metric: Metric, window: float) -> float | None:
    """The metric's value for `row` over `window` seconds, as the SMI API computes it; None: no value."""
    total = row.success + row.failure
    if metric is Metric.REQUEST_RATE:
        return total / window
    if metric is Metric.SUCCESS_COUNT:
        return float(round(row.success))
    if metric is Metric.FAILURE_COUNT:
        return float(round(row.failure))
    if metric is Metric.SUCCESS_RATE:
        return row.success / total if total > 0 else None
    return row.latency_ms.get(_LATENCY[metric])


def window_seconds(window: float) -> int:
    """`windowSeconds` is an integer in both APIs; windows below a second are rejected earlier."""
    return round(window)


def selector_labels(text: str, parameter: str) -> dict[str, str]:
    """A selector of `key=value` requirements only, as a dict; anything else is a 400."""
    selector: Selector = parse_selector(text)
    labels: dict[str, str] = {}
    for requirement in selector.requirements:
        if requirement.operator != "in" or len(requirement.values) != 1 or requirement.key in labels:
            raise bad_request(f"{parameter}={text!r}: only key=value requirements, each key once, are understood here")
        [labels[requirement.key]] = requirement.values
    return labels


def window_of(labels: dict[str, str], parameter: str) -> float:
    """The `window=` requirement as seconds (default 1m), within the SMI API's bounds."""
    text = labels.get(WINDOW_LABEL)
    return DEFAULT_WINDOW if text is None else parse_window(text, f"window={text!r} in {parameter}")


def json_only(accept: str | None) -> None:
    """These APIs answer JSON only (HPA's client sends `application/vnd.kubernetes.protobuf, */*` and
    decodes by the answer's Content-Type); 406 when Accept excludes JSON."""
    if not any(media.is_json for media in parse_accept(accept)):
        raise ApiError(406, "only the following media types are accepted: application/json")
