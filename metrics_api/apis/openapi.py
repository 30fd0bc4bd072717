"""The OpenAPI parts of the metric APIs (custom.metrics.k8s.io, external.metrics.k8s.io), and the paths
the documents are served at (metrics_api.http.openapi merges every API's part and serves them)."""
from __future__ import annotations

from typing import Any

from metrics_api import __version__
from metrics_api.apis.api import OpenApiPart

V2_PATH = "/openapi/v2"
V3_PATH = "/openapi/v3"


def metric_api_openapi(group_version: str, definition_prefix: str, list_kind: str, item_kind: str,
                       item_fields: dict[str, Any], paths: dict[str, tuple[str, tuple[str, ...]]],
                       query_parameters: tuple[str, ...], action: str) -> OpenApiPart:
    """A minimal, valid OpenAPI part for an autoscaling metrics API (what metrics-server and
    prometheus-adapter serve): the list and item kinds, and one GET per path template."""
    group, _, version = group_version.partition("/")
    gvk = {"group": group, "version": version, "kind": list_kind}
    operation_prefix = "read" + "".join(part.capitalize() for part in group.split(".")) + version.capitalize()

    def documents(ref: str, v3: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        schemas = {
            definition_prefix + list_kind: {
                "description": f"A list of {item_kind}s.", "type": "object", "required": ["items"],
                "properties": {"kind": {"type": "string"}, "apiVersion": {"type": "string"},
                               "metadata": {"type": "object"},
                               "items": {"type": "array", "items": {"$ref": ref + definition_prefix + item_kind}}},
                "x-kubernetes-group-version-kind": [gvk]},
            definition_prefix + item_kind: {"description": "One metric value.", "type": "object",
                                            "properties": item_fields},
        }
        schema = {"$ref": ref + definition_prefix + list_kind}
        operations = {}
        for path, (description, names) in paths.items():
            parameters = [_parameter(n, "path", v3) for n in names] + [_parameter(q, "query", v3)
                                                                       for q in query_parameters]
            operation = {"description": f"read {description}",
                         "operationId": operation_prefix + "".join(n.capitalize() for n in names),
                         "parameters": parameters,
                         "responses": {"200": _ok(schema, v3), "401": {"description": "Unauthorized"}},
                         "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk}
            if not v3:
                operation |= {"consumes": ["*/*"], "produces": ["application/json"], "schemes": ["https"]}
            operations[path] = {"get": operation}
        return operations, schemas

    v2_paths, definitions = documents("#/definitions/", False)
    v3_paths, components = documents("#/components/schemas/", True)
    v3 = {"openapi": "3.0.0", "info": {"title": group_version, "version": __version__}, "paths": v3_paths,
          "components": {"schemas": components}}
    return OpenApiPart(group_version, v2_paths, definitions, v3)


def _parameter(name: str, where: str, v3: bool) -> dict[str, Any]:
    typed = {"schema": {"type": "string"}} if v3 else {"type": "string"}
    return {"name": name, "in": where, "required": where == "path", "uniqueItems": True, **typed}


def _ok(schema: dict[str, Any], v3: bool) -> dict[str, Any]:
    if v3:
        return {"description": "OK", "content": {"application/json": {"schema": schema}}}
    return {"description": "OK", "schema": schema}
