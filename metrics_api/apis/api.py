"""What every served API group/version looks like to the HTTP layer: its prefix, discovery and OpenAPI
documents, a router from path to Route, and a renderer of the pipeline's Answer in its own shape.

The SMI Traffic Metrics API and the autoscaling metrics APIs (custom.metrics.k8s.io,
external.metrics.k8s.io) are all instances: they differ in how paths name objects and how answers
look, never in how the numbers are obtained (one pipeline, one cache, one coalescing)."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from metrics_api.core.model import Answer, Target
from metrics_api.packs.model import Pack

Renderer = Callable[[Answer], bytes]


@dataclass(frozen=True)
class Route:
    """A parsed API request: what to measure and what the API-specific renderer needs (`view`, e.g. the
    metric an autoscaler asked for). How it is authorized comes from the raw path before routing
    (http/requestinfo.py, as kube-apiserver's request-info parser reads it)."""
    target: Target
    path_template: str          # low-cardinality label for our own metrics, prefix included
    view: Any = None            # hashable; read only by the API's own renderer


@dataclass(frozen=True)
class OpenApiPart:
    """One group/version's share of the OpenAPI documents."""
    group_version: str
    v2_paths: dict[str, Any]
    v2_definitions: dict[str, Any]
    v3: dict[str, Any] = field(default_factory=dict)


class Api(Protocol):
    group: str
    version: str
    prefix: str                 # /apis/<group>/<version>
    resource_list: bytes        # the APIResourceList, serialized once

    def discovery_resources(self) -> list[dict[str, Any]]:
        """The version's resources as aggregated discovery v2 (APIResourceDiscovery) writes them."""

    def openapi(self) -> OpenApiPart: ...

    def route(self, path: str, query: Mapping[str, str]) -> Route:
        """`path` is under `prefix`; raises an ApiError (400/404) for anything it does not serve."""

    def renderer(self, route: Route, accept: str | None, query: Mapping[str, str]) -> Renderer:
        """How to render the Answer for this request; raises 406 when Accept excludes every form served."""


class ListedApi:
    """What the API classes share: the query pack and their APIResourceList, serialized once."""

    def __init__(self, pack: Pack, resources: dict[str, Any]) -> None:
        self.pack = pack
        self._resources = resources
        self.resource_list = orjson.dumps(resources)

    def discovery_resources(self) -> list[dict[str, Any]]:
        return aggregated_resources(self._resources)


def aggregated_resources(resource_list: dict[str, Any]) -> list[dict[str, Any]]:
    """An APIResourceList converted as the aggregator converts it (k8s.io/apiserver
    pkg/endpoints/installer.go ConvertGroupVersionIntoToDiscovery): `a/b` entries become subresources of
    `a`, a subresource without a listed parent gets an empty parent of the same scope, every responseKind
    set (client-go 0.26.0–0.26.3 panicked on a nil one)."""
    group, _, version = resource_list["groupVersion"].partition("/")
    resources: dict[str, dict[str, Any]] = {}
    for entry in resource_list["resources"]:
        parent, _, subresource = entry["name"].partition("/")
        response_kind = {"group": group, "version": version, "kind": entry["kind"]}
        scope = "Namespaced" if entry["namespaced"] else "Cluster"
        if subresource:
            holder = resources.setdefault(parent, {"resource": parent, "responseKind": response_kind,
                                                   "scope": scope, "singularResource": "", "verbs": [],
                                                   "subresources": []})
            holder["subresources"].append({"subresource": subresource, "responseKind": response_kind,
                                           "verbs": entry["verbs"]})
        else:
            resources[parent] = {"resource": parent, "responseKind": response_kind, "scope": scope,
                                 "singularResource": entry["singularName"], "verbs": entry["verbs"],
                                 "subresources": []}
    return list(resources.values())
