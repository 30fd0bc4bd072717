"""Async Prometheus HTTP API client (also VictoriaMetrics, Thanos, Mimir): instant queries only."""
from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from .errors import ApiError, internal, upstream_timeout, upstream_unavailable

Series = dict[str, Any]   # {"metric": {label: value}, "value": [timestamp, "number"]}


class PrometheusClient:
    """One pooled aiohttp session; queries are POSTed as form bodies so no URL limit applies."""

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None, max_connections: int = 64) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = headers or {}
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=60)
            self._session = aiohttp.ClientSession(connector=connector, headers=self._headers)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def query(self, promql: str, at: float, timeout: float) -> list[Series]:
        """An instant vector at `at` (unix seconds); raises ApiError (503, 504 or 500) on failure."""
        # Prometheus durations take no fractions: whole milliseconds.
        form = {"query": promql, "time": f"{at:.3f}", "timeout": f"{max(int(timeout * 1000), 1)}ms"}
        data = await self._post("/api/v1/query", form, timeout)
        if data.get("resultType") != "vector":
            raise internal(f"Prometheus returned a {data.get('resultType')!r} result for an instant vector query")
        return data.get("result") or []

    async def ready(self, timeout: float = 2.0) -> bool:
        try:
            await self._post("/api/v1/query", {"query": "1"}, timeout)
        except ApiError:
            return False
        return True

    async def _post(self, path: str, form: dict[str, str], timeout: float) -> dict[str, Any]:
        assert self._session is not None, "PrometheusClient.start() was not called"
        url = self.base_url + path
        try:
            async with asyncio.timeout(timeout):
                async with self._session.post(url, data=form) as response:
                    body = await response.read()
                    status = response.status
        except TimeoutError:
            raise upstream_timeout(f"Prometheus at {self.base_url} did not answer within {timeout:.1f}s") from None
        except aiohttp.ClientError as exc:
            raise upstream_unavailable(f"Prometheus at {self.base_url} is unreachable: {exc}") from None
        return _decode(self.base_url, status, body)


def _decode(base_url: str, status: int, body: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        if status in (502, 503, 504):
            raise upstream_unavailable(f"Prometheus at {base_url} answered HTTP {status}")
        raise internal(f"Prometheus at {base_url} answered HTTP {status} with a body that is not its JSON API")
    if document.get("status") == "success" and status == 200:
        return document.get("data") or {}
    error_type = document.get("errorType", "")
    message = f"Prometheus {error_type or 'error'}: {document.get('error', f'HTTP {status}')}"
    if error_type == "timeout" or status == 504:
        raise upstream_timeout(message)
    if error_type == "unavailable" or status == 503:
        raise upstream_unavailable(message)
    raise internal(message)
