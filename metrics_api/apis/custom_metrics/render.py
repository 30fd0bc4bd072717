"""An Answer → MetricValueList in v1beta2 or v1beta1 field names, fields in the Go structs' order
(k8s.io/metrics pkg/apis/custom_metrics/v1beta2/types.go and v1beta1/types.go)."""
from __future__ import annotations

from typing import Any

import orjson

from metrics_api.apis.custom_metrics import GROUP
from metrics_api.apis.custom_metrics.routing import View
from metrics_api.apis.metric_values import API_VERSIONS, value_of, window_seconds
from metrics_api.core.errors import not_found
from metrics_api.core.model import Answer, Ref
from metrics_api.core.quantity import format_go_duration, milli_quantity, rfc3339


def described_object(ref: Ref) -> dict[str, str]:
    """A core/v1 ObjectReference in its field order (kind, namespace, name, apiVersion)."""
    described = {"kind": ref.kind}
    if not ref.cluster_scoped:
        described["namespace"] = ref.namespace
    return described | {"name": ref.name, "apiVersion": API_VERSIONS[ref.kind]}


def label_selector(view: View) -> dict[str, Any] | None:
    """The metric selector as metav1.ParseToLabelSelector writes `key=value` requirements."""
    return {"matchLabels": dict(view.selector)} if view.selector else None


def render(answer: Answer, view: View) -> bytes:
    """One item per object with a value. A get whose object has no value (an idle success rate or
    latency) is a 404 naming object, metric and window: HPA then reports the metric as unavailable
    instead of scaling on a number nobody measured."""
    target, window = answer.target, answer.target.window
    timestamp, seconds, selector = rfc3339(answer.at), window_seconds(window), label_selector(view)
    items = []
    for row in answer.rows:
        value = value_of(row, view.metric, window)
        if value is None:
            continue
        if view.version == "v1beta1":
            items.append({"describedObject": described_object(row.resource), "metricName": view.metric.value,
                          "timestamp": timestamp, "window": seconds, "value": milli_quantity(value),
                          "selector": selector})
        else:
            items.append({"describedObject": described_object(row.resource),
                          "metric": {"name": view.metric.value, "selector": selector},
                          "timestamp": timestamp, "windowSeconds": seconds, "value": milli_quantity(value)})
    if answer.is_object and not items:
        ref = answer.rows[0].resource
        raise not_found(f"{view.metric.value} of {ref.kind} {ref.namespace + '/' if ref.namespace else ''}{ref.name} "
                        f"has no value over {format_go_duration(window)}: no requests in the window",
                        name=target.name or "", group=GROUP, kind=view.metric.value)
    return orjson.dumps({"kind": "MetricValueList", "apiVersion": f"{GROUP}/{view.version}", "metadata": {},
                         "items": items})
