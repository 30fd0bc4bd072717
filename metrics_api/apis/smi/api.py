"""metrics.smi-spec.io as the HTTP layer sees every API, one object per version: routing, rendering,
discovery, OpenAPI. v1alpha2 renders the same answers with `edge.side` and `backend` and serves the
traffic-split plurals when the pack observes backends and split objects can be read."""
from __future__ import annotations

from collections.abc import Mapping

from metrics_api.apis.api import ListedApi, OpenApiPart, Renderer, Route
from metrics_api.apis.smi import GROUP, ApiVersion
from metrics_api.apis.smi.discovery import resource_list
from metrics_api.apis.smi.openapi import openapi_part
from metrics_api.apis.smi.routing import parse
from metrics_api.apis.smi.table import renderer_for
from metrics_api.packs.model import Pack


class SmiApi(ListedApi):
    group = GROUP

    def __init__(self, pack: Pack, version: ApiVersion, splits: bool) -> None:
        super().__init__(pack, resource_list(pack, version, splits))
        self._version = version
        self._splits = splits
        self.version = version.name
        self.prefix = version.prefix

    def openapi(self) -> OpenApiPart:
        return openapi_part(self.pack, self._version, self._splits)

    def route(self, path: str, query: Mapping[str, str]) -> Route:
        parsed = parse(self.pack, path, query, self._version, self._splits)
        return Route(parsed.target, self.prefix + parsed.path_template)

    def renderer(self, route: Route, accept: str | None, query: Mapping[str, str]) -> Renderer:
        return renderer_for(accept, query)   # JSON or a Table, whatever the path
