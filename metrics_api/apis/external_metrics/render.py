"""An Answer → ExternalMetricValueList, fields in the Go struct's order
(k8s.io/metrics pkg/apis/external_metrics/v1beta1/types.go)."""
from __future__ import annotations

import orjson

from metrics_api.apis.external_metrics import GROUP, VERSION
from metrics_api.apis.external_metrics.routing import View
from metrics_api.apis.metric_values import value_of, window_seconds
from metrics_api.core.model import Answer
from metrics_api.core.quantity import milli_quantity, rfc3339


def render(answer: Answer, view: View) -> bytes:
    """The object's value as the only item; no value (an idle success rate or latency) → `items: []`, which
    canary tools report as "no values" rather than as a failing number (Flagger takes the first item)."""
    window = answer.target.window
    items = []
    for row in answer.rows[:1]:
        value = value_of(row, view.metric, window)
        if value is not None:
            items.append({"metricName": view.metric.value, "metricLabels": dict(view.labels),
                          "timestamp": rfc3339(answer.at), "window": window_seconds(window),
                          "value": milli_quantity(value)})
    return orjson.dumps({"kind": "ExternalMetricValueList", "apiVersion": f"{GROUP}/{VERSION}", "metadata": {},
                         "items": items})
