"""Async Prometheus HTTP API client (also VictoriaMetrics, Thanos, Mimir): instant queries only."""
from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import aiohttp
import orjson

from metrics_api.cli.config import Settings
from metrics_api.core.errors import ApiError, internal, upstream_timeout, upstream_unavailable
from metrics_api.store.access import StoreAccess, store_access
from metrics_api.store.vector import LazyVector, Series, lazy_vector

Vector = list[Series] | LazyVector   # the series of an instant vector: decoded, or decoded as read


class PrometheusClient:
    """One pooled aiohttp session; queries are POSTed as form bodies so no URL limit applies."""

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None, max_connections: int = 64,
                 max_concurrency: int = 32, max_body_bytes: int = 64 << 20,
                 access: StoreAccess | None = None) -> None:
        self.base_url = base_url.rstrip("/")   # may end in a path prefix: /select/0/prometheus
        self._access = access or StoreAccess()
        self._headers = headers or {}
        self._max_connections = max_connections
        # Queries wait here (within their budget) rather than pile up at Prometheus.
        self._slots = asyncio.Semaphore(max_concurrency)
        self._max_body_bytes = max_body_bytes
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> PrometheusClient:
        return cls(settings.prometheus_url, max_concurrency=settings.max_prometheus_queries,
                   max_body_bytes=settings.max_prometheus_response_bytes, access=store_access(settings))

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=60,
                                             ssl=self._access.ssl_context or True)
            # identity: gzip costs Prometheus and us more CPU than it saves on a cluster network
            # (measured: a cold request took twice as long with it, tests/perf/RESULTS.md).
            headers = {"Accept-Encoding": "identity", **self._headers}
            self._session = aiohttp.ClientSession(connector=connector, headers=headers)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def query(self, promql: str, at: float, timeout: float) -> Vector:
        """An instant vector at `at` (unix seconds); raises ApiError (503, 504 or 500) on failure."""
        # Prometheus durations take no fractions: whole milliseconds.
        form = {"query": promql, "time": f"{at:.3f}", "timeout": f"{max(int(timeout * 1000), 1)}ms"}
        status, body = await self._exchange("POST", "/api/v1/query", form, timeout)
        if status == 200:
            large = lazy_vector(body, self._check_series)
            if large is not None:
                return large
        data = _decode(self.base_url, status, body)
        if not isinstance(data, dict) or data.get("resultType") != "vector":
            kind = data.get("resultType") if isinstance(data, dict) else type(data).__name__
            raise internal(f"Prometheus returned a {kind!r} result for an instant vector query")
        return vector(self.base_url, data.get("result"))

    async def label_names(self, selector: str, start: float, end: float, timeout: float) -> list[str]:
        """The label names of the series matching `selector` in [start, end] (a metadata query)."""
        form = {"match[]": selector, "start": f"{start:.3f}", "end": f"{end:.3f}"}
        names = await self._post("/api/v1/labels", form, timeout)
        return [str(name) for name in names] if isinstance(names, list) else []

    async def label_values(self, label: str, selector: str, start: float, end: float, timeout: float) -> list[str]:
        """The values `label` takes on the series matching `selector` in [start, end] (a metadata query)."""
        query = {"match[]": selector, "start": f"{start:.3f}", "end": f"{end:.3f}"}
        values = await self._request("GET", f"/api/v1/label/{label}/values", query, timeout)
        return [str(value) for value in values] if isinstance(values, list) else []

    async def series_exist(self, selector: str, start: float, end: float, timeout: float) -> bool:
        """Whether any series matches `selector` in [start, end]: a metadata query (label names only)."""
        return matched(await self.label_names(selector, start, end, timeout))

    async def ready(self, timeout: float = 2.0) -> bool:
        try:
            await self._post("/api/v1/query", {"query": "1"}, timeout)
        except ApiError:
            return False
        return True

    async def _post(self, path: str, form: dict[str, str], timeout: float) -> Any:
        return await self._request("POST", path, form, timeout)

    async def _request(self, method: str, path: str, fields: dict[str, str], timeout: float) -> Any:
        """POST: `fields` as a form body (no URL limit); GET (endpoints without POST): as the query string."""
        return _decode(self.base_url, *await self._exchange(method, path, fields, timeout))

    async def _exchange(self, method: str, path: str, fields: dict[str, str], timeout: float
                        ) -> tuple[int, bytearray]:
        """The HTTP status and body of one request (`_request`), undecoded."""
        assert self._session is not None, "PrometheusClient.start() was not called"
        url = self.base_url + path
        payload = {"data": fields} if method == "POST" else {"params": fields}
        try:
            async with asyncio.timeout(timeout):
                async with self._slots, self._session.request(
                        method, url, headers=self._access.request_headers(), **payload) as response:
                    body = await self._read_bounded(response)
                    status = response.status
        except TimeoutError:
            raise upstream_timeout(f"Prometheus at {self.base_url} did not answer within {timeout:.1f}s") from None
        except aiohttp.ClientError as exc:
            raise upstream_unavailable(f"Prometheus at {self.base_url} is unreachable: {exc}") from None
        return status, body

    async def _read_bounded(self, response: aiohttp.ClientResponse) -> bytearray:
        """The body, or a 500 as soon as it exceeds the bound: an answer that big is a query matching
        far more series than any traffic view should, and must not take the server's memory with it."""
        limit = self._max_body_bytes
        if response.content_length is not None and response.content_length > limit:
            raise self._too_big()
        body = bytearray()   # mutable: a LazyVector decodes in place (store/vector.py)
        async for chunk in response.content.iter_chunked(1 << 16):
            if len(body) + len(chunk) > limit:
                raise self._too_big()
            body += chunk
        return body

    def _check_series(self, series: Any) -> None:
        check_series(self.base_url, series)

    def _too_big(self) -> ApiError:
        return internal(f"Prometheus at {self.base_url} answered more than {self._max_body_bytes} bytes "
                        "(--max-prometheus-response-bytes)")


def vector(base_url: str, result: Any) -> list[Series]:
    """An instant vector's series, checked to have the shape the normalizer reads (a proxy or a
    non-Prometheus store may answer anything): a bad shape is a 500 naming the store, never a Python
    exception's text."""
    if result is None:
        return []
    if not isinstance(result, list):
        raise _bad_answer(base_url, f"its result is a {type(result).__name__}, not a list of series")
    for series in result:
        check_series(base_url, series)
    return result


def check_series(base_url: str, series: Any) -> None:
    problem = _series_problem(series)
    if problem:
        raise _bad_answer(base_url, problem)


def _series_problem(series: Any) -> str:
    if not isinstance(series, dict):
        return f"a series is a {type(series).__name__}, not an object"
    labels = series.get("metric")
    if not isinstance(labels, dict) or not _all_strings(labels.values()):
        return "a series' metric is not an object of string labels"
    sample = series.get("value")
    if not (isinstance(sample, list) and len(sample) == 2 and isinstance(sample[1], str)
            and isinstance(sample[0], (int, float)) and not isinstance(sample[0], bool)):
        return 'a series\' value is not [timestamp, "number"]'
    return ""


def _all_strings(values: Iterable[Any]) -> bool:
    """str.join refuses anything but strings, at C speed: a generator of isinstance checks was a tenth of
    the CPU a 5,000-pod list costs (130,000 series)."""
    try:
        "".join(values)
    except TypeError:
        return False
    return True


def _bad_answer(base_url: str, problem: str) -> ApiError:
    return internal(f"Prometheus at {base_url} gave an answer of the wrong shape: {problem}")


def matched(label_names: Any) -> bool:
    """Whether a /api/v1/labels?match[]= answer found series: Prometheus answers [] when none match,
    VictoriaMetrics ["__name__"], so only a real label counts."""
    return any(name != "__name__" for name in label_names or ())


def _decode(base_url: str, status: int, body: bytes | bytearray) -> Any:
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
    # A Prometheus shutting down fails queries on its closing blocks ("block is closing"): unavailable.
    if error_type == "unavailable" or status == 503 or str(document.get("error", "")).endswith("is closing"):
        raise upstream_unavailable(message)
    raise internal(message)
