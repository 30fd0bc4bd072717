"""Pre-serialized documents with ETags (discovery v2, OpenAPI), answered with 304 when unchanged."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

JSON = "application/json"


@dataclass(frozen=True)
class Document:
    body: bytes
    content_type: str      # the full Content-Type, parameters included
    hash: str              # upper-hex SHA-512 of the body, as kube-openapi and kube-apiserver compute it

    @classmethod
    def of(cls, value: Any, content_type: str = JSON) -> Document:
        body = orjson.dumps(value)
        return cls(body, content_type, hashlib.sha512(body).hexdigest().upper())

    @property
    def etag(self) -> str:
        return f'"{self.hash}"'

    def respond(self, request: web.Request, headers: dict[str, str] | None = None) -> web.Response:
        """200 with the body, or 304 when If-None-Match names our ETag (or `*`)."""
        headers = {"ETag": self.etag, "Vary": "Accept", **(headers or {})}
        if self._matches(request.headers.get("If-None-Match", "")):
            return web.Response(status=304, headers=headers)
        return web.Response(body=self.body, headers={"Content-Type": self.content_type, **headers})

    def _matches(self, if_none_match: str) -> bool:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or self.etag in tags
