"""HTTP layer: one dispatcher for every path, Status errors, our own metrics, health, TLS lifecycle."""
from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from metrics_api.apis.smi import API_PREFIX, GROUP
from metrics_api.apis.smi.discovery import Documents, wants_aggregated_discovery
from metrics_api.apis.smi.openapi import OpenApi
from metrics_api.apis.smi.routing import ParsedRequest, parse, watch_requested
from metrics_api.apis.smi.table import Renderer, renderer_for
from metrics_api.cli.config import Settings
from metrics_api.core.errors import ApiError
from metrics_api.core.memo import Memo
from metrics_api.core.model import Attributes, Target
from metrics_api.core.telemetry import Telemetry
from metrics_api.http.health import StoreProbe, health_response
from metrics_api.http.limits import InFlightLimit
from metrics_api.http.protocol import StatusAppRunner
from metrics_api.http.tls import ServingTls
from metrics_api.packs.model import Pack
from metrics_api.pipeline.answer import MetricsApi, Workloads
from metrics_api.pipeline.answer_cache import ResponseCache
from metrics_api.pipeline.fetch import Fetcher
from metrics_api.pipeline.window import WindowFloor
from metrics_api.store.prometheus import PrometheusClient

log = logging.getLogger("metrics_api")

JSON = "application/json"
HEALTH_PATHS = ("/healthz", "/livez", "/readyz")
PATH_TEMPLATE = web.RequestKey("path_template", str)   # low-cardinality path label for our own metrics
STREAM_CHUNK = 64 << 10   # answers larger than this are written in chunks of this size

# Authorization seam: given the request and its attributes, return or raise an ApiError (401/403).
Gate = Callable[[web.Request, Attributes | None], Awaitable[None]]


async def allow_all(request: web.Request, attributes: Attributes | None) -> None:
    """--local mode: no authentication, no authorization."""


@dataclass
class Server:
    settings: Settings
    pack: Pack
    prometheus: PrometheusClient
    gate: Gate = allow_all
    telemetry: Telemetry = field(default_factory=Telemetry)
    workloads: Workloads | None = None   # cluster mode: lookups in the Kubernetes API

    def __post_init__(self) -> None:
        settings = self.settings
        self.fetcher = Fetcher(self.prometheus, self.telemetry, ttl=settings.cache_ttl,
                               max_entries=settings.cache_max_entries, max_bytes=settings.cache_max_bytes)
        self.responses = ResponseCache(fresh_seconds=settings.cache_ttl, stale_seconds=settings.stale_if_error,
                                       max_bytes=settings.cache_max_bytes)
        self.admission = InFlightLimit(settings.max_in_flight)
        self.api = MetricsApi(self.pack, self.fetcher, self.settings.request_timeout, self.workloads)
        self.documents = Documents(self.pack)
        self.openapi = OpenApi(self.pack)
        self._discovery = {"/apis": self.documents.api_group_list, f"/apis/{GROUP}": self.documents.api_group,
                           API_PREFIX: self.documents.resource_list}
        # Routing and the choice of renderer depend only on the request's text: done once per distinct request.
        self._routes: Memo[tuple[str, str], _Route] = Memo()
        self._renderers: Memo[tuple[str | None, str], Renderer] = Memo()
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
        self.telemetry.request_served(response.status, request[PATH_TEMPLATE], time.perf_counter() - started)
        await _send(request, response)
        return response

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path in HEALTH_PATHS:
            request[PATH_TEMPLATE] = path
            return await health_response(path, request.query, self.shutting_down, self.store)
        if request.method not in ("GET", "HEAD"):
            raise ApiError(405, f"the server does not allow this method on the requested resource ({request.method})")
        if path == "/metrics":
            request[PATH_TEMPLATE] = path
            await self.gate(request, None)
            await self.store.refresh()   # smi_metrics_api_store_up, as of this scrape
            return web.Response(body=self.telemetry.exposition(), content_type="text/plain", charset="utf-8")
        normalized = path.rstrip("/") or "/"
        discovery = self._discovery.get(normalized)
        if discovery is not None:
            request[PATH_TEMPLATE] = normalized
            await self.gate(request, None)
            if normalized == "/apis" and wants_aggregated_discovery(request.headers.get("Accept")):
                return self.documents.api_group_discovery_list.respond(request)
            return _json(discovery)
        if normalized.startswith("/openapi/"):
            await self.gate(request, None)
            response = self.openapi.respond(request, normalized)
            request[PATH_TEMPLATE] = normalized
            return response
        if not normalized.startswith(API_PREFIX + "/"):
            raise ApiError(404, "the server could not find the requested resource")
        route = self._routes.get((normalized, request.rel_url.raw_query_string),
                                 lambda: _Route.of(parse(self.pack, normalized, request.query), request.query))
        request[PATH_TEMPLATE] = route.path_template
        if route.watch:
            raise ApiError(405, "watch is not supported: traffic metrics are computed on request")
        with self.admission.admit():
            await self.gate(request, route.parsed.attributes)
            return await self._metrics(request, route.parsed.target, normalized)

    async def _metrics(self, request: web.Request, target: Target, path: str) -> web.Response:
        accept = request.headers.get("Accept")
        render = self._renderers.get((accept, request.rel_url.raw_query_string),   # JSON or a Table
                                     lambda: renderer_for(accept, request.query))

        at = self.fetcher.evaluation_time()   # once per request: the cache key and the queries share it
        target, widened = self.windows.widen(target)

        async def compute() -> bytes:
            return render(await self.api.answer(target, path, at))

        key = (path, request.rel_url.raw_query_string, accept or "")   # the string routing parsed, not a decoding
        body = await self.responses.get(key, at, compute)
        warnings = ", ".join(warning for warning in (widened, body.warning) if warning)
        headers = {"Warning": warnings} if warnings else None
        if len(body.content) > STREAM_CHUNK and request.method != "HEAD":
            return _Chunked(body.content, headers)
        return web.Response(body=body.content, content_type=JSON, headers=headers)


@dataclass(frozen=True)
class _Route:
    parsed: ParsedRequest
    path_template: str   # our metrics' label
    watch: bool

    @classmethod
    def of(cls, parsed: ParsedRequest, query: Mapping[str, str]) -> _Route:
        return cls(parsed, API_PREFIX + parsed.path_template, parsed.attributes.verb == "list" and watch_requested(query))


def _json(body: bytes) -> web.Response:
    return web.Response(body=body, content_type=JSON)


async def _send(request: web.Request, response: web.StreamResponse) -> None:
    """Write the response here so that a client hanging up mid-response costs one debug line, not an
    error (the aggregator's availability probe closes its connections unread every 30 s)."""
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
    runner = StatusAppRunner(server.application(), access_log=None, shutdown_timeout=drain_seconds)
    await runner.setup()
    site = web.TCPSite(runner, settings.bind_address, settings.secure_port, ssl_context=tls.context)
    await site.start()
    reloading = asyncio.create_task(tls.keep_reloading())
    log.info("serving %s on https://%s:%d with the %s query pack, Prometheus %s", API_PREFIX,
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
    await runner.cleanup()
