"""metrics.smi-spec.io/v1alpha1 as the HTTP layer sees every API: routing, rendering, discovery, OpenAPI."""
from __future__ import annotations

from collections.abc import Mapping

from metrics_api.apis.api import (
    ListedApi,
    OpenApiPart,
    Renderer,
    Route,
)
from metrics_api.apis.smi import API_PREFIX, GROUP, VERSION
from metrics_api.apis.smi.discovery import resource_list
from metrics_api.apis.smi.openapi import openapi_part
from metrics_api.apis.smi.routing import parse
from metrics_api.apis.smi.table import renderer_for
from metrics_api.packs.model import Pack


class SmiApi(ListedApi):
    group = GROUP
    version = VERSION
    prefix = API_PREFIX

    def __init__(self, pack: Pack) -> None:
        super().__init__(pack, resource_list(pack))

    def openapi(self) -> OpenApiPart:
        return openapi_part(self.pack)

    def route(self, path: str, query: Mapping[str, str]) -> Route:
        parsed = parse(self.pack, path, query)
        return Route(parsed.target, API_PREFIX + parsed.path_template)

    def renderer(self, route: Route, accept: str | None, query: Mapping[str, str]) -> Renderer:
        return renderer_for(accept, query)   # JSON or a Table, whatever the path
