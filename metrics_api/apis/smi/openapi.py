"""The SMI group's OpenAPI (for `kubectl explain`): Swagger 2.0 and OpenAPI 3.0 paths and schemas per
version, built once per pack; metrics_api.apis.openapi merges and serves them with the other groups'."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from metrics_api import __version__
from metrics_api.apis.api import OpenApiPart
from metrics_api.apis.openapi import V3_PATH
from metrics_api.apis.smi import GROUP, V1ALPHA1, VERSIONS, ApiVersion
from metrics_api.apis.smi.discovery import SPLIT_DISCOVERY_KINDS, resource_list
from metrics_api.packs.model import Pack


def v3_group_path(version: ApiVersion) -> str:
    return f"{V3_PATH}/apis/{version.group_version}"


V3_GROUP_PATH = v3_group_path(V1ALPHA1)


def _prefix(version: ApiVersion) -> str:
    """Definition names, clear of the core definitions they merge with."""
    return f"io.smi-spec.metrics.{version.name}."


def _operation_prefix(version: ApiVersion) -> str:
    return f"MetricsSmiSpecIo{version.name.capitalize()}"


def _gvk(kind: str, version: ApiVersion) -> list[dict[str, str]]:
    return [{"group": GROUP, "version": version.name, "kind": kind}]


def _string(description: str, **more: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **more}


def schemas(ref: str, version: ApiVersion = V1ALPHA1) -> dict[str, dict[str, Any]]:
    """The definitions, with `$ref`s under `ref` (`#/definitions/` or `#/components/schemas/`)."""
    prefix = _prefix(version)

    def to(name: str) -> dict[str, str]:
        return {"$ref": ref + prefix + name}

    type_meta = {
        "kind": _string("Kind of this object."),
        "apiVersion": _string(f"API version of this object: {version.group_version}."),
    }
    found = {
        prefix + "TrafficMetrics": {
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
            "x-kubernetes-group-version-kind": _gvk("TrafficMetrics", version),
        },
        prefix + "TrafficMetricsList": {
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
            "x-kubernetes-group-version-kind": _gvk("TrafficMetricsList", version),
        },
        prefix + "ObjectMeta": {
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
        prefix + "ListMeta": {
            "description": "Metadata of a list.",
            "type": "object",
            "properties": {"selfLink": _string("The API path of this list.")},
        },
        prefix + "ObjectReference": {
            "description": "A Kubernetes object: kind, namespace (for namespaced kinds) and name.",
            "type": "object",
            "properties": {
                "kind": _string("Kubernetes kind: Deployment, StatefulSet, Pod, Namespace, …"),
                "namespace": _string("Namespace of the object."),
                "name": _string("Name of the object."),
            },
        },
        prefix + "Edge": {
            "description": "Which side of the traffic an item describes.",
            "type": "object",
            "properties": {
                "direction": _string("to: traffic from the resource to the peer; from: from the peer into the "
                                     "resource.", enum=["to", "from"]),
                "resource": {**to("ObjectReference"), "description": "The peer; null for a resource's own metrics."},
            },
        },
        prefix + "Metric": {
            "description": "One measurement.",
            "type": "object",
            "required": ["name", "value"],
            "properties": {
                "name": _string("p99_response_latency, p90_response_latency, p50_response_latency, success_count, "
                                "failure_count, request_rate or success_rate."),
                "unit": _string("ms for latencies, rps for request_rate."),
                "value": _string("A Kubernetes quantity (296875m = 296.875).", format="quantity"),
            },
        },
    }
    if version.sides:
        _add_v1alpha2(found, prefix, to, version)
    return found


def _add_v1alpha2(found: dict[str, dict[str, Any]], prefix: str, to: Callable[[str], dict[str, str]],
                  version: ApiVersion) -> None:
    """smi-sdk-go pkg/apis/metrics/v1alpha2: Edge.side, TrafficMetrics.backend; split lists answer gets of
    the kinds discovery names for trafficsplits and httproutes (so `kubectl explain` finds them)."""
    edge = found[prefix + "Edge"]["properties"]
    edge["side"] = _string("Which proxy measured the numbers: client or server.", enum=["client", "server"])
    traffic_metrics = found[prefix + "TrafficMetrics"]["properties"]
    traffic_metrics["backend"] = {**to("Backend"), "description": "A traffic-split backend; null on other items."}
    found[prefix + "Backend"] = {
        "description": "One backend of a TrafficSplit (root service) or GAMMA HTTPRoute (parent Service).",
        "type": "object",
        "properties": {
            "apex": _string("The Service clients address."),
            "name": _string("The backend Service the requests went to."),
            "weight": {"type": "integer", "description": "The backend's weight in the split."},
        },
    }
    found[prefix + "TrafficMetricsList"]["x-kubernetes-group-version-kind"] += [
        gvk for kind in SPLIT_DISCOVERY_KINDS.values() for gvk in _gvk(kind, version)]


@dataclass(frozen=True)
class Operation:
    path: str
    action: str          # get | list
    kind: str            # TrafficMetrics | TrafficMetricsList (the response)
    operation_id: str
    description: str
    path_params: tuple[str, ...]


def operations(pack: Pack, version: ApiVersion = V1ALPHA1, splits: bool = False) -> list[Operation]:
    """Every path the pack serves, derived from discovery so the two never disagree."""
    found: list[Operation] = []
    operation_prefix = _operation_prefix(version)
    for entry in resource_list(pack, version, splits)["resources"]:
        plural, _, subresource = entry["name"].partition("/")
        title = "".join(part.capitalize() for part in plural.split("-"))
        if entry["namespaced"]:
            base, params = f"{version.prefix}/namespaces/{{namespace}}/{plural}", ("namespace",)
        else:
            base, params = f"{version.prefix}/{plural}", ()
        if subresource:
            found.append(Operation(f"{base}/{{name}}/{subresource}", "get", "TrafficMetricsList",
                                   f"read{operation_prefix}{'Namespaced' * bool(params)}{title}Edges",
                                   f"the edges of one of the {plural}: traffic to and from each peer",
                                   (*params, "name")))
            continue
        namespaced = "Namespaced" if params else ""
        # A split's get lists its backends (CONTRACT §6).
        got = "TrafficMetricsList" if plural in SPLIT_DISCOVERY_KINDS else "TrafficMetrics"
        found.append(Operation(f"{base}/{{name}}", "get", got,
                               f"read{operation_prefix}{namespaced}{title}", f"traffic metrics of one of the {plural}",
                               (*params, "name")))
        found.append(Operation(base, "list", "TrafficMetricsList", f"list{operation_prefix}{namespaced}{title}",
                               f"traffic metrics of the {plural}", params))
        if params:
            found.append(Operation(f"{version.prefix}/{plural}", "list", "TrafficMetricsList",
                                   f"list{operation_prefix}{title}ForAllNamespaces",
                                   f"traffic metrics of the {plural} in every namespace", ()))
    return found


_QUERY_PARAMETERS = (
    ("t", "The window, a Go duration between 1s and 24h (default 30s)."),
    ("labelSelector", "Lists only: keep the items whose workloads match this label selector."),
)
_PATH_PARAMETERS = {"namespace": "object name and auth scope, such as for teams and projects",
                    "name": "name of the measured resource"}


def _operation(op: Operation, v3: bool, ref: str, version: ApiVersion) -> dict[str, Any]:
    def parameter(name: str, where: str, description: str) -> dict[str, Any]:
        typed = {"schema": {"type": "string"}} if v3 else {"type": "string"}
        return {"name": name, "in": where, "description": description, "required": where == "path",
                "uniqueItems": True, **typed}

    parameters = [parameter(name, "path", _PATH_PARAMETERS[name]) for name in op.path_params]
    parameters += [parameter(name, "query", description) for name, description in _QUERY_PARAMETERS]
    schema = {"$ref": ref + _prefix(version) + op.kind}
    if v3:
        ok = {"description": "OK", "content": {"application/json": {"schema": schema}}}
    else:
        ok = {"description": "OK", "schema": schema}
    operation: dict[str, Any] = {
        "description": f"read {op.description}",
        "operationId": op.operation_id,
        "tags": [f"{_operation_prefix(version)[0].lower()}{_operation_prefix(version)[1:]}"],
        "parameters": parameters,
        "responses": {"200": ok, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": _gvk("TrafficMetrics", version)[0],
    }
    if not v3:
        operation |= {"consumes": ["*/*"], "produces": ["application/json"], "schemes": ["https"]}
    return operation


def swagger_v2(pack: Pack, splits: bool = False) -> dict[str, Any]:
    """Every version in one document (as kube-apiserver merges them)."""
    ref = "#/definitions/"
    paths: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    for version in reversed(VERSIONS):   # v1alpha1 first: its part of the document reads as before
        paths |= _paths(pack, version, splits, False, ref)
        definitions |= schemas(ref, version)
    return {"swagger": "2.0", "info": _INFO, "paths": paths, "definitions": definitions}


def openapi_v3(pack: Pack, version: ApiVersion = V1ALPHA1, splits: bool = False) -> dict[str, Any]:
    ref = "#/components/schemas/"
    return {"openapi": "3.0.0", "info": _INFO, "paths": _paths(pack, version, splits, True, ref),
            "components": {"schemas": schemas(ref, version)}}


_INFO = {"title": "SMI Traffic Metrics API", "version": __version__}


def _paths(pack: Pack, version: ApiVersion, splits: bool, v3: bool, ref: str) -> dict[str, Any]:
    return {op.path: {"get": _operation(op, v3, ref, version)} for op in operations(pack, version, splits)}


def openapi_part(pack: Pack, version: ApiVersion, splits: bool) -> OpenApiPart:
    """One version's share of the documents (apis/openapi.py merges and serves them)."""
    ref = "#/definitions/"
    return OpenApiPart(version.group_version, _paths(pack, version, splits, False, ref), schemas(ref, version),
                       openapi_v3(pack, version, splits))
