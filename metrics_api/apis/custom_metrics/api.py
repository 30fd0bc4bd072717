"""custom.metrics.k8s.io/<version> as the HTTP layer sees every API: routing, rendering, discovery, OpenAPI."""
from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from metrics_api.apis.api import ListedApi, OpenApiPart, Renderer, Route
from metrics_api.apis.custom_metrics import GROUP
from metrics_api.apis.custom_metrics.render import render
from metrics_api.apis.custom_metrics.routing import route, served_resources
from metrics_api.apis.metric_values import Metric, json_only
from metrics_api.apis.openapi import metric_api_openapi
from metrics_api.packs.model import Pack

LIST_KIND = "MetricValueList"


class CustomMetricsApi(ListedApi):
    group = GROUP

    def __init__(self, pack: Pack, version: str) -> None:
        super().__init__(pack, resource_list(pack, version))
        self.version = version
        self.prefix = f"/apis/{GROUP}/{version}"

    def openapi(self) -> OpenApiPart:
        value_fields = _VALUE_FIELDS[self.version]
        return metric_api_openapi(
            f"{GROUP}/{self.version}", f"io.k8s.metrics.pkg.apis.custom_metrics.{self.version}.",
            LIST_KIND, "MetricValue", value_fields,
            {f"{self.prefix}/namespaces/{{namespace}}/{{resource}}/{{name}}/{{metric}}":
                 ("one object's metric, or every object's (`*`) with labelSelector",
                  ("namespace", "resource", "name", "metric")),
             f"{self.prefix}/namespaces/{{namespace}}/metrics/{{metric}}":
                 ("the Namespace's own metric", ("namespace", "metric"))},
            ("labelSelector", "metricLabelSelector"), "get")

    def route(self, path: str, query: Mapping[str, str]) -> Route:
        return route(self.pack, self.prefix, self.version, path, query)

    def renderer(self, route: Route, accept: str | None, query: Mapping[str, str]) -> Renderer:
        json_only(accept)
        return partial(render, view=route.view)


def resource_list(pack: Pack, version: str) -> dict[str, Any]:
    """`<resource>/<metric>` for every served resource and metric (verbs get: HPA only gets), then
    `namespaces/<metric>` (cluster-scoped), as custom-metrics-apiserver lists them."""
    resources = [_entry(f"{resource}/{metric}", True) for resource in served_resources(pack) for metric in Metric]
    if pack.support("namespaces"):
        resources += [_entry(f"namespaces/{metric}", False) for metric in Metric]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{GROUP}/{version}", "resources": resources}


def _entry(name: str, namespaced: bool) -> dict[str, Any]:
    return {"name": name, "singularName": "", "namespaced": namespaced, "kind": LIST_KIND, "verbs": ["get"]}


_OBJECT = {"type": "object", "description": "The measured object (kind, namespace, name, apiVersion)."}
_QUANTITY = {"type": "string", "format": "quantity", "description": "A Kubernetes quantity (990m = 0.99)."}
_SELECTOR = {"type": "object", "description": "The metric selector the request named (window=<duration>), or null."}
_TIMESTAMP = {"type": "string", "format": "date-time", "description": "When the value was evaluated."}
_VALUE_FIELDS: dict[str, dict[str, Any]] = {
    "v1beta2": {"describedObject": _OBJECT,
                "metric": {"type": "object", "description": "The metric's name and selector."},
                "timestamp": _TIMESTAMP,
                "windowSeconds": {"type": "integer", "format": "int64", "description": "The window, in seconds."},
                "value": _QUANTITY},
    "v1beta1": {"describedObject": _OBJECT,
                "metricName": {"type": "string", "description": "The metric's name."},
                "timestamp": _TIMESTAMP,
                "window": {"type": "integer", "format": "int64", "description": "The window, in seconds."},
                "value": _QUANTITY, "selector": _SELECTOR},
}
