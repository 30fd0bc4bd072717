"""HTTP layer: one dispatcher for every path, Status errors, our own metrics, health, TLS lifecycle."""
from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from aiohttp import web

from metrics_api.apis.api import Renderer, Route
from metrics_api.apis.registry import wants_aggregated_discovery
from metrics_api.apis.served import served_apis
from metrics_api.cli.config import Settings
from metrics_api.core.errors import ApiError
from metrics_api.core.memo import Memo
from metrics_api.core.model import Attributes
from metrics_api.core.telemetry import Telemetry
from metrics_api.http.health import StoreProbe, health_response
from metrics_api.http.limits import InFlightLimit
from metrics_api.http.listener import listen
from metrics_api.http.memory import keep_returning_freed_memory, tune_collector
from metrics_api.http.openapi import OpenApi
from metrics_api.http.requestinfo import request_info
from metrics_api.http.tls import ServingTls
from metrics_api.packs.model import Pack
from metrics_api.pipeline.answer import MetricsApi, Workloads
from metrics_api.pipeline.answer_cache import RequestKey, ResponseCache
from metrics_api.pipeline.fetch import Fetcher
from metrics_api.pipeline.recordings import Recordings
from metrics_api.pipeline.splits import SplitAnswers, SplitSource
from metrics_api.pipeline.window import WindowFloor
from metrics_api.store.prometheus import PrometheusClient

log = logging.getLogger("metrics_api")

JSON = "application/json"
HEALTH_PATHS = ("/healthz", "/livez", "/readyz")
READ_METHODS = ("GET", "HEAD")
SERVER_NAME = "smi-metrics-api"   # the Server header: a product name, no versions to look vulnerabilities up by
PATH_TEMPLATE = web.RequestKey("path_template", str)   # low-cardinality path label for our own metrics
API_GROUP = web.RequestKey("api_group", str)           # the API group served ("" outside the APIs)
STREAM_CHUNK = 64 << 10   # answers larger than this are written in chunks of this size

class Gate(Protocol):
    """Who is asking, then may they: each returns or raises an ApiError (401 and 429 from the first, 403
    from the second). The caller `authenticate` returns is opaque here and handed to `authorize`. None
    instead of a Gate: --local mode, no authentication and no authorization."""

    async def authenticate(self, request: web.Request) -> Any: ...

    async def authorize(self, caller: Any, attributes: Attributes | None, request: web.Request) -> None: ...


@dataclass
class Server:
    settings: Settings
    pack: Pack
    prometheus: PrometheusClient
    gate: Gate | None = None
    telemetry: Telemetry = field(default_factory=Telemetry)
    workloads: Workloads | None = None   # cluster mode: lookups in the Kubernetes API
    splits: SplitSource | None = None    # v1alpha2 trafficsplits/httproutes: a routes file or the Kubernetes API

    def __post_init__(self) -> None:
        settings = self.settings
        self.fetcher = Fetcher(self.prometheus, self.telemetry, ttl=settings.cache_ttl,
                               max_entries=settings.cache_max_entries, max_bytes=settings.cache_max_bytes)
        self.responses = ResponseCache(fresh_seconds=settings.cache_ttl, stale_seconds=settings.stale_if_error,
                                       max_bytes=settings.cache_max_bytes)
        self.admission = InFlightLimit(settings.max_in_flight)
        backends = self.pack.backends.view
        split_answers = (SplitAnswers(self.pack, backends, self.splits, self.fetcher, settings.request_timeout)
                         if backends is not None and self.splits is not None else None)
        self.serves_splits = split_answers is not None
        recordings = Recordings(self.pack, self.prometheus) if settings.recording_rules == "auto" else None
        self.api = MetricsApi(self.pack, self.fetcher, self.settings.request_timeout, self.workloads,
                              recordings=recordings, splits=split_answers)
        # Every served API by prefix; each maps its paths onto the one pipeline (self.api) and renders the
        # Answer in its own shape.
        self.apis = served_apis(self.pack, splits=self.serves_splits, custom_metrics=settings.enable_custom_metrics,
                                external_metrics=settings.enable_external_metrics)
        self.openapi = OpenApi([api.openapi() for api in self.apis.apis])
        self._discovery = self.apis.documents
        # Authorization attributes, routing and the choice of renderer depend only on the request's text:
        # done once per distinct request.
        self._attributes: Memo[tuple[str, str, str], Attributes | None] = Memo()
        self._resolved: Memo[tuple[str, str, str, str | None], _Resolved] = Memo()
        self.shutting_down = False
        self.store = StoreProbe(self.prometheus, self.telemetry, timeout=min(2.0, settings.request_timeout))
        self.windows = WindowFloor(self.prometheus, self.pack.detect, settings.scrape_interval,
                                   timeout=settings.request_timeout)

    def application(self) -> web.Application:
        app = web.Application(handler_args={"max_field_size": 16384})
        app.router.add_route("*", r"/{tail:[\s\S]*}", self._observe)   # every path, even with %0A in it
        app.on_startup.append(self._startup)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _startup(self, app: web.Application) -> None:
        await self.prometheus.start()
        await self.windows.start()

    async def _cleanup(self, app: web.Application) -> None:
        await self.windows.stop()
        await self.prometheus.close()

    async def _observe(self, request: web.Request) -> web.StreamResponse:
        """The one route handler. Not an aiohttp middleware: an empty one alone costs a fifth of the
        cached-GET rate (tests/perf/RESULTS.md)."""
        started = time.perf_counter()
        request[PATH_TEMPLATE] = "other"
        request[API_GROUP] = ""
        self.telemetry.requests_in_flight += 1
        try:
            response = await self._dispatch(request)
        except ApiError as error:
            response = _status_response(error)
        except web.HTTPException as exc:   # raised by aiohttp itself (e.g. a malformed request)
            response = _status_response(ApiError(exc.status, exc.reason))
        except Exception as exc:   # a bug: answer a Status with the cause, never a bare 500
            log.exception("internal error serving %s", request.path)
            response = _status_response(ApiError(500, f"internal error: {type(exc).__name__}: {exc}"))
        finally:
            self.telemetry.requests_in_flight -= 1
        self.telemetry.request_served(response.status, request[PATH_TEMPLATE], request[API_GROUP],
                                      time.perf_counter() - started)
        await _send(request, response)
        return response

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        """kube-apiserver's order: health needs nothing; everything else is authenticated, admitted (API
        requests only), authorized with attributes read from the raw request, and only then routed and
        validated, so that nobody learns from a 404, 400 or 405 what they may not read."""
        path = request.path
        if path in HEALTH_PATHS:
            request[PATH_TEMPLATE] = path
            _read_only(request.method)
            return await health_response(path, request.query, self.shutting_down, self.store)
        raw_query = request.rel_url.raw_query_string
        attributes = self._attributes.get((request.method, path, raw_query),
                                          lambda: request_info(request.method, path, request.query))
        gate = self.gate
        caller = await gate.authenticate(request) if gate is not None else None
        if attributes is None:
            if gate is not None:
                await gate.authorize(caller, None, request)
            return await self._non_resource(request, path)
        with self.admission.admit():
            if gate is not None:
                await gate.authorize(caller, attributes, request)
            return await self._resource(request, path, raw_query, attributes)

    async def _non_resource(self, request: web.Request, path: str) -> web.StreamResponse:
        """Discovery, OpenAPI and our own /metrics."""
        _read_only(request.method)
        if path == "/metrics":
            request[PATH_TEMPLATE] = path
            await self.store.refresh()   # smi_metrics_api_store_up, as of this scrape
            return web.Response(body=self.telemetry.exposition(), content_type="text/plain", charset="utf-8")
        normalized = path.rstrip("/") or "/"
        discovery = self._discovery.get(normalized)
        if discovery is not None:
            request[PATH_TEMPLATE] = normalized
            if normalized == "/apis" and wants_aggregated_discovery(request.headers.get("Accept")):
                return self.apis.aggregated.respond(request)
            return _json(discovery)
        if normalized.startswith("/openapi/"):
            response = self.openapi.respond(request, normalized)
            request[PATH_TEMPLATE] = normalized
            return response
        raise ApiError(404, "the server could not find the requested resource")

    async def _resource(self, request: web.Request, path: str, raw_query: str,
                        attributes: Attributes) -> web.StreamResponse:
        accept = request.headers.get("Accept")
        resolved = self._resolved.get((request.method, path, raw_query, accept),
                                      lambda: self._resolve(request, path, raw_query, accept, attributes))
        request[API_GROUP] = resolved.group
        request[PATH_TEMPLATE] = resolved.route.path_template
        at = self.fetcher.evaluation_time()   # once per request: the cache key and the queries share it
        target, widened = self.windows.widen(resolved.route.target)
        render = resolved.render

        async def compute() -> bytes:
            return render(await self.api.answer(target, resolved.path, at))

        body = await self.responses.get(resolved.key, at, compute)
        warnings = ", ".join(warning for warning in (widened, body.warning) if warning)
        headers = {"Warning": warnings} if warnings else None
        if len(body.content) > STREAM_CHUNK and request.method != "HEAD":
            return _Chunked(body.content, headers)
        return web.Response(body=body.content, content_type=JSON, headers=headers)

    def _resolve(self, request: web.Request, path: str, raw_query: str, accept: str | None,
                 attributes: Attributes) -> _Resolved:
        """The method check, the API, the route and the renderer, in this order of their errors."""
        _read_only(request.method)
        normalized = path.rstrip("/") or "/"
        api = self.apis.for_path(normalized)
        if api is None:
            raise ApiError(404, "the server could not find the requested resource")
        request[API_GROUP] = api.group
        route = api.route(normalized, request.query)
        request[PATH_TEMPLATE] = route.path_template
        if attributes.verb == "watch":   # as kube-apiserver reads `watch` (requestinfo.py), so as it was authorized
            raise ApiError(405, "watch is not supported: traffic metrics are computed on request")
        render = api.renderer(route, accept, request.query)   # e.g. JSON or a Table
        # The answer's key: the route (parsed from the string routing read, so an invalid request never
        # gets here) and the renderer chosen, so that parameters nobody reads and Accept ranges naming the
        # same form share one answer.
        key = RequestKey((normalized, route, _renderer_identity(render)),
                         len(normalized) + len(raw_query) + len(accept or ""))
        return _Resolved(api.group, route, render, normalized, key)


@dataclass(frozen=True)
class _Resolved:
    """All that a resource request's text decides, worked out once per distinct request (Memo)."""
    group: str
    route: Route
    render: Renderer
    path: str
    key: RequestKey


def _renderer_identity(render: Renderer) -> Hashable:
    """Renderers are functions or functools.partial of one: equal by this, they render alike."""
    if isinstance(render, partial):
        return render.func, render.args, tuple(sorted(render.keywords.items()))
    return render


def _read_only(method: str) -> None:
    if method not in READ_METHODS:
        raise ApiError(405, f"the server does not allow this method on the requested resource ({method})")


def _json(body: bytes) -> web.Response:
    return web.Response(body=body, content_type=JSON)


async def _send(request: web.Request, response: web.StreamResponse) -> None:
    """Write the response here so that a client hanging up mid-response costs one debug line, not an
    error (the aggregator's availability probe closes its connections unread every 30 s)."""
    response.headers["Server"] = SERVER_NAME
    try:
        await response.prepare(request)
        await response.write_eof()
    except ConnectionResetError:   # aiohttp's ClientConnectionResetError included
        log.debug("client disconnected before the answer to %s %s was written", request.method, request.path)


class _Chunked(web.StreamResponse):
    """A large answer written a chunk at a time, each once the previous one has left: a slow reader holds
    one chunk (plus TLS buffers), not an encrypted copy of the whole body (50 clients reading a 5,000-pod
    list would otherwise hold 50 copies of 4 MB)."""

    def __init__(self, content: bytes, headers: dict[str, str] | None) -> None:
        super().__init__(headers=headers)
        self.content_type = JSON
        self.content_length = len(content)
        self._content: bytes | None = content

    async def write_eof(self, data: bytes = b"") -> None:
        content, self._content = self._content, None   # aiohttp calls write_eof again after _send
        if content is not None:
            view = memoryview(content)
            for start in range(0, len(view), STREAM_CHUNK):
                await self.write(view[start:start + STREAM_CHUNK])
                # Let a lost connection be noticed before the next chunk: TLS hides it from write() until
                # the loop runs, and every chunk written meanwhile costs asyncio a warning. The next
                # write then raises ConnectionResetError: one debug line in _send.
                await asyncio.sleep(0)
        await super().write_eof(data)


def _status_response(error: ApiError) -> web.Response:
    return web.Response(status=error.code, body=error.body(), content_type=JSON, headers=error.headers)


async def run(server: Server, tls: ServingTls, drain_seconds: float | None = None) -> None:
    """Serve HTTPS until SIGTERM/SIGINT: then fail readiness, keep serving for --shutdown-delay (while
    load balancers notice), close the listener and let in-flight requests finish (--drain-timeout)."""
    settings = server.settings
    drain_seconds = settings.drain_timeout if drain_seconds is None else drain_seconds
    runner = await listen(server.application(), settings.bind_address, settings.secure_port, tls.context,
                          drain_seconds)
    tune_collector()   # and below, keep_returning_freed_memory: see http/memory.py
    reloading = asyncio.create_task(tls.keep_reloading())
    trimming = asyncio.create_task(keep_returning_freed_memory())
    log.info("serving %s on https://%s:%d with the %s query pack, Prometheus %s",
             ", ".join(api.prefix for api in server.apis.apis),
             settings.bind_address, settings.secure_port, server.pack.name, server.prometheus.base_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.shutting_down = True
    log.info("shutting down: readiness now fails; closing the listener in %gs, then draining in-flight requests "
             "(up to %gs)", settings.shutdown_delay, drain_seconds)
    await asyncio.sleep(settings.shutdown_delay)
    reloading.cancel()
    trimming.cancel()
    await runner.cleanup()
