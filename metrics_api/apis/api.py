"""What every served API group/version looks like to the HTTP layer: its prefix, discovery and OpenAPI
documents, a router from path to Route, and a renderer of the pipeline's Answer in its own shape.

The SMI Traffic Metrics API and the autoscaling metrics APIs (custom.metrics.k8s.io,
external.metrics.k8s.io) are all instances: they differ in how paths name objects and how answers
look, never in how the numbers are obtained (one pipeline, one cache, one coalescing)."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from metrics_api.core.model import Answer, Attributes, Target

Renderer = Callable[[Answer], bytes]


@dataclass(frozen=True)
class Route:
    """A parsed API request: what to measure, how kube-apiserver would authorize it, and what the
    API-specific renderer needs (`view`, e.g. the metric an autoscaler asked for)."""
    target: Target
    attributes: Attributes
    path_template: str          # low-cardinality label for our own metrics, prefix included
    watch: bool = False
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


def watch_requested(query: Mapping[str, str]) -> bool:
    return query.get("watch") in ("true", "1")
