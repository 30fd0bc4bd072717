"""external.metrics.k8s.io/v1beta1 as the HTTP layer sees every API: routing, rendering, discovery, OpenAPI."""
from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from metrics_api.apis.api import ListedApi, OpenApiPart, Renderer, Route
from metrics_api.apis.external_metrics import API_PREFIX, GROUP, VERSION
from metrics_api.apis.external_metrics.render import render
from metrics_api.apis.external_metrics.routing import route
from metrics_api.apis.metric_values import Metric, json_only
from metrics_api.apis.openapi import metric_api_openapi
from metrics_api.packs.model import Pack

LIST_KIND = "ExternalMetricValueList"
_FIELDS: dict[str, Any] = {
    "metricName": {"type": "string", "description": "The metric's name."},
    "metricLabels": {"type": "object", "additionalProperties": {"type": "string"},
                     "description": "The selector's labels: the object (deployment=web, …) and the window."},
    "timestamp": {"type": "string", "format": "date-time", "description": "When the value was evaluated."},
    "window": {"type": "integer", "format": "int64", "description": "The window, in seconds."},
    "value": {"type": "string", "format": "quantity", "description": "A Kubernetes quantity (990m = 0.99)."},
}


class ExternalMetricsApi(ListedApi):
    group = GROUP
    version = VERSION
    prefix = API_PREFIX

    def __init__(self, pack: Pack) -> None:
        # One namespaced resource per metric, as custom-metrics-apiserver lists external metrics.
        super().__init__(pack, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{GROUP}/{VERSION}",
                                "resources": [{"name": metric.value, "singularName": "", "namespaced": True,
                                               "kind": LIST_KIND, "verbs": ["get"]} for metric in Metric]})

    def openapi(self) -> OpenApiPart:
        return metric_api_openapi(f"{GROUP}/{VERSION}", "io.k8s.metrics.pkg.apis.external_metrics.v1beta1.",
                                  LIST_KIND, "ExternalMetricValue", _FIELDS,
                                  {f"{API_PREFIX}/namespaces/{{namespace}}/{{metric}}":
                                   ("a metric of the object the labelSelector names", ("namespace", "metric"))},
                                  ("labelSelector",), "list")

    def route(self, path: str, query: Mapping[str, str]) -> Route:
        return route(self.pack, path, query)

    def renderer(self, route: Route, accept: str | None, query: Mapping[str, str]) -> Renderer:
        json_only(accept)
        return partial(render, view=route.view)
