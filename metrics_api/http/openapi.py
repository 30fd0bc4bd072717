"""OpenAPI served for `kubectl explain` and the aggregator: Swagger 2.0 at /openapi/v2 (every served group's
paths and definitions in one document), OpenAPI 3.0 at /openapi/v3 (root) and
/openapi/v3/apis/<group>/<version> (one document per group/version), built once from the APIs' parts
(apis/*/openapi) and served with ETags.

Serving rules follow kube-openapi's handlers: ETag = quoted upper-hex SHA-512 of the body,
If-None-Match → 304; on a v3 group document a stale `?hash=` → 301 to the current one, the current
hash → immutable caching for a year.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from email.utils import formatdate

from aiohttp import web

from metrics_api import __version__
from metrics_api.apis.api import OpenApiPart
from metrics_api.apis.openapi import V2_PATH, V3_PATH
from metrics_api.core.errors import ApiError, not_found
from metrics_api.http.document import Document
from metrics_api.http.media import parse_accept

ONE_YEAR = 365 * 24 * 3600


class OpenApi:
    """The documents of every served group/version, serialized once at start-up."""

    def __init__(self, parts: Sequence[OpenApiPart]) -> None:
        paths: dict = {}
        definitions: dict = {}
        for part in parts:
            paths |= part.v2_paths
            definitions |= part.v2_definitions
        self.v2 = Document.of({"swagger": "2.0", "info": {"title": "smi-metrics-api", "version": __version__},
                               "paths": paths, "definitions": definitions})
        self.v3_groups = {f"{V3_PATH}/apis/{part.group_version}": Document.of(part.v3) for part in parts}
        self.v3_root = Document.of({"paths": {path.removeprefix(V3_PATH + "/"):
                                              {"serverRelativeURL": _current(path, doc)}
                                              for path, doc in self.v3_groups.items()}})

    def respond(self, request: web.Request, path: str) -> web.Response:
        """`path` is the request path without a trailing slash; 404 for anything we do not serve."""
        group_document = self.v3_groups.get(path)
        document = group_document or {V2_PATH: self.v2, V3_PATH: self.v3_root}.get(path)
        if document is None:
            raise not_found("the server could not find the requested resource")
        if not any(media.is_json for media in parse_accept(request.headers.get("Accept"))):
            raise ApiError(406, "only application/json is served here (no protobuf)")
        if group_document is None or "hash" not in request.query:
            return document.respond(request)
        if request.query["hash"] != document.hash:
            return web.Response(status=301, headers={"Location": _current(path, document), "Vary": "Accept"})
        return document.respond(request, {"Cache-Control": "public, immutable",
                                          "Expires": formatdate(time.time() + ONE_YEAR, usegmt=True)})


def _current(path: str, document: Document) -> str:
    return f"{path}?hash={document.hash}"
