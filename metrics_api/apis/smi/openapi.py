"""The SMI group's OpenAPI (for `kubectl explain`): Swagger 2.0 and OpenAPI 3.0 paths and schemas,
built once per pack; metrics_api.apis.openapi merges and serves them with the other groups'."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metrics_api import __version__
from metrics_api.apis.api import OpenApiPart
from metrics_api.apis.openapi import V3_PATH
from metrics_api.apis.smi import API_PREFIX, GROUP, GROUP_VERSION, VERSION
from metrics_api.apis.smi.discovery import resource_list
from metrics_api.packs.model import Pack

V3_GROUP_PATH = f"{V3_PATH}/apis/{GROUP_VERSION}"

_PREFIX = "io.smi-spec.metrics.v1alpha1."   # definition names, clear of the core definitions they merge with
TRAFFIC_METRICS = _PREFIX + "TrafficMetrics"
TRAFFIC_METRICS_LIST = _PREFIX + "TrafficMetricsList"
_OPERATION_PREFIX = "MetricsSmiSpecIoV1alpha1"


def _gvk(kind: str) -> list[dict[str, str]]:
    return [{"group": GROUP, "version": VERSION, "kind": kind}]


def _string(description: str, **more: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **more}


def schemas(ref: str) -> dict[str, dict[str, Any]]:
    """The definitions, with `$ref`s under `ref` (`#/definitions/` or `#/components/schemas/`)."""
    def to(name: str) -> dict[str, str]:
        return {"$ref": ref + _PREFIX + name}

    type_meta = {
        "kind": _string("Kind of this object."),
        "apiVersion": _string("API version of this object: metrics.smi-spec.io/v1alpha1."),
    }
    return {
        TRAFFIC_METRICS: {
            "description": "Traffic metrics of one resource (or of one edge between it and a peer) over a window.",
            "type": "object",
            "properties": {
                **type_meta,
                "metadata": {**to("ObjectMeta"), "description": "The measured resource's name and namespace."},
                "timestamp": _string("When the metrics were evaluated (RFC 3339, UTC).", format="date-time"),
                "window": _string("The window the metrics cover, as a Go duration (30s, 1m0s)."),
                "resource": {**to("ObjectReference"), "description": "The measured resource."},
                "edge": {**to("Edge"), "description": "For edge items: the direction and the peer."},
                "metrics": {"type": "array", "items": to("Metric"),
                            "description": "p99, p90, p50 response latency (ms), success_count, failure_count, "
                                           "then request_rate (rps) and success_rate, which is absent when "
                                           "there were no requests in the window."},
            },
            "x-kubernetes-group-version-kind": _gvk("TrafficMetrics"),
        },
        TRAFFIC_METRICS_LIST: {
            "description": "A list of TrafficMetrics: the resources of a kind, or the edges of one resource.",
            "type": "object",
            "required": ["items"],
            "properties": {
                **type_meta,
                "metadata": {**to("ListMeta"), "description": "The list's selfLink."},
                "resource": {**to("ObjectReference"),
                             "description": "What the list is about: the kind (and namespace) listed, "
                                            "or the resource whose edges these are."},
                "items": {"type": "array", "items": to("TrafficMetrics"), "description": "The items."},
            },
            "x-kubernetes-group-version-kind": _gvk("TrafficMetricsList"),
        },
        _PREFIX + "ObjectMeta": {
            "description": "Metadata of a TrafficMetrics object.",
            "type": "object",
            "properties": {
                "name": _string("Name of the measured resource."),
                "namespace": _string("Namespace of the measured resource (absent for cluster-scoped kinds)."),
                "selfLink": _string("The API path of this object."),
                "creationTimestamp": _string("When the metrics were evaluated.", format="date-time"),
                "labels": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "Labels of the measured resource, where known."},
            },
        },
        _PREFIX + "ListMeta": {
            "description": "Metadata of a list.",
            "type": "object",
            "properties": {"selfLink": _string("The API path of this list.")},
        },
        _PREFIX + "ObjectReference": {
            "description": "A Kubernetes object: kind, namespace (for namespaced kinds) and name.",
            "type": "object",
            "properties": {
                "kind": _string("Kubernetes kind: Deployment, StatefulSet, Pod, Namespace, …"),
                "namespace": _string("Namespace of the object."),
                "name": _string("Name of the object."),
            },
        },
        _PREFIX + "Edge": {
            "description": "Which side of the traffic an item describes.",
            "type": "object",
            "properties": {
                "direction": _string("to: traffic from the resource to the peer; from: from the peer into the "
                                     "resource.", enum=["to", "from"]),
                "resource": {**to("ObjectReference"), "description": "The peer; null for a resource's own metrics."},
            },
        },
        _PREFIX + "Metric": {
            "description": "One measurement.",
            "type": "object",
            "required": ["name", "value"],
            "properties": {
                "name": _string("p99_response_latency, p90_response_latency, p50_response_latency, success_count, "
                                "failure_count, request_rate or success_rate (absent without requests "
                                "in the window)."),
                "unit": _string("ms for latencies, rps for request_rate."),
                "value": _string("A Kubernetes quantity (296875m = 296.875).", format="quantity"),
            },
        },
    }


@dataclass(frozen=True)
class Operation:
    path: str
    action: str          # get | list
    kind: str            # TrafficMetrics | TrafficMetricsList (the response)
    operation_id: str
    description: str
    path_params: tuple[str, ...]


def operations(pack: Pack) -> list[Operation]:
    """Every path the pack serves, derived from discovery so the two never disagree."""
    found: list[Operation] = []
    for entry in resource_list(pack)["resources"]:
        plural, _, subresource = entry["name"].partition("/")
        title = "".join(part.capitalize() for part in plural.split("-"))
        if entry["namespaced"]:
            base, params = f"{API_PREFIX}/namespaces/{{namespace}}/{plural}", ("namespace",)
        else:
            base, params = f"{API_PREFIX}/{plural}", ()
        if subresource:
            found.append(Operation(f"{base}/{{name}}/{subresource}", "get", "TrafficMetricsList",
                                   f"read{_OPERATION_PREFIX}{'Namespaced' * bool(params)}{title}Edges",
                                   f"the edges of one of the {plural}: traffic to and from each peer",
                                   (*params, "name")))
            continue
        namespaced = "Namespaced" if params else ""
        found.append(Operation(f"{base}/{{name}}", "get", "TrafficMetrics",
                               f"read{_OPERATION_PREFIX}{namespaced}{title}", f"traffic metrics of one of the {plural}",
                               (*params, "name")))
        found.append(Operation(base, "list", "TrafficMetricsList", f"list{_OPERATION_PREFIX}{namespaced}{title}",
                               f"traffic metrics of the {plural}", params))
        if params:
            found.append(Operation(f"{API_PREFIX}/{plural}", "list", "TrafficMetricsList",
                                   f"list{_OPERATION_PREFIX}{title}ForAllNamespaces",
                                   f"traffic metrics of the {plural} in every namespace", ()))
    return found


_QUERY_PARAMETERS = (
    ("t", "The window, a Go duration between 1s and 24h (default 30s)."),
    ("labelSelector", "Lists only: keep the items whose workloads match this label selector."),
)
_PATH_PARAMETERS = {"namespace": "object name and auth scope, such as for teams and projects",
                    "name": "name of the measured resource"}


def _operation(op: Operation, v3: bool, ref: str) -> dict[str, Any]:
    def parameter(name: str, where: str, description: str) -> dict[str, Any]:
        typed = {"schema": {"type": "string"}} if v3 else {"type": "string"}
        return {"name": name, "in": where, "description": description, "required": where == "path",
                "uniqueItems": True, **typed}

    parameters = [parameter(name, "path", _PATH_PARAMETERS[name]) for name in op.path_params]
    parameters += [parameter(name, "query", description) for name, description in _QUERY_PARAMETERS]
    schema = {"$ref": ref + _PREFIX + op.kind}
    if v3:
        ok = {"description": "OK", "content": {"application/json": {"schema": schema}}}
    else:
        ok = {"description": "OK", "schema": schema}
    operation: dict[str, Any] = {
        "description": f"read {op.description}",
        "operationId": op.operation_id,
        "tags": [f"{_OPERATION_PREFIX[0].lower()}{_OPERATION_PREFIX[1:]}"],
        "parameters": parameters,
        "responses": {"200": ok, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": _gvk("TrafficMetrics")[0],
    }
    if not v3:
        operation |= {"consumes": ["*/*"], "produces": ["application/json"], "schemes": ["https"]}
    return operation


def swagger_v2(pack: Pack) -> dict[str, Any]:
    ref = "#/definitions/"
    return {"swagger": "2.0", **_info_and_paths(pack, False, ref), "definitions": schemas(ref)}


def openapi_v3(pack: Pack) -> dict[str, Any]:
    ref = "#/components/schemas/"
    return {"openapi": "3.0.0", **_info_and_paths(pack, True, ref), "components": {"schemas": schemas(ref)}}


def _info_and_paths(pack: Pack, v3: bool, ref: str) -> dict[str, Any]:
    return {"info": {"title": "SMI Traffic Metrics API", "version": __version__},
            "paths": {op.path: {"get": _operation(op, v3, ref)} for op in operations(pack)}}


def openapi_part(pack: Pack) -> OpenApiPart:
    v2 = swagger_v2(pack)
    return OpenApiPart(GROUP_VERSION, v2["paths"], v2["definitions"], openapi_v3(pack))
