"""`kubectl traffic dashboard`: a page on 127.0.0.1 that draws the service graph and refreshes it in place.

The browser talks only to this small aiohttp backend (same origin, no credentials in the page); the backend
reads the API with the user's kubeconfig. Assets are package data: plain HTML, CSS and JavaScript."""
from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiohttp import web

from metrics_api.client import graph
from metrics_api.client.api import ClientError, Scope, TrafficApi
from metrics_api.core.quantity import rfc3339

HOST = "127.0.0.1"
WINDOWS = ("10s", "30s", "1m", "5m", "15m", "1h")
REFRESH_SECONDS = 5          # the page's refresh period: each refresh lists the workloads and their edges
STATIC = resources.files("metrics_api.client") / "static"
CONTENT_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


@dataclass
class Dashboard:
    api: TrafficApi
    scope: Scope
    window: str

    def __post_init__(self) -> None:
        # One graph load per window at a time, shared by every tab asking meanwhile; keys are bounded by
        # the windows offered.
        self._loading: dict[str, asyncio.Task[dict[str, Any]]] = {}

    @property
    def windows(self) -> tuple[str, ...]:
        return WINDOWS if self.window in WINDOWS else (*WINDOWS, self.window)

    def application(self, port: int) -> web.Application:
        app = web.Application(middlewares=[local_host_only(port)])
        app.router.add_get("/", self._page)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/api/config", self._config)
        app.router.add_get("/api/graph", self._graph)
        return app

    async def load(self, window: str) -> dict[str, Any]:
        task = self._loading.get(window)
        if task is None:
            task = asyncio.ensure_future(self._load(window))
            self._loading[window] = task
            task.add_done_callback(lambda _: self._loading.pop(window, None))
        return await asyncio.shield(task)

    async def _load(self, window: str) -> dict[str, Any]:
        found = await graph.load(self.api, self.scope, window)
        return {**graph.to_json(found), "updated": rfc3339(time.time())}

    async def _page(self, request: web.Request) -> web.Response:
        return _asset("index.html")

    async def _static(self, request: web.Request) -> web.Response:
        return _asset(request.match_info["name"])

    async def _config(self, request: web.Request) -> web.Response:
        return _json({"namespace": self.scope.namespace, "window": self.window, "windows": list(self.windows),
                      "refreshSeconds": REFRESH_SECONDS, "server": self.api.server,
                      "bands": [{"min": bound, "band": name} for bound, name in graph.BANDS],
                      "colours": graph.COLOURS})

    async def _graph(self, request: web.Request) -> web.Response:
        window = request.query.get("t", self.window)
        if window not in self.windows:
            return _json({"error": f"window must be one of {', '.join(self.windows)}"}, 400)
        try:
            return _json(await self.load(window))
        except ClientError as exc:
            return _json({"error": str(exc)}, 502)


def local_host_only(port: int):
    """Answer only requests addressed to this loopback listener: a page elsewhere that rebinds its DNS name
    to 127.0.0.1 would otherwise read the user's metrics with their credentials."""
    allowed = {f"127.0.0.1:{port}", f"localhost:{port}"}

    @web.middleware
    async def check(request: web.Request, handler) -> web.StreamResponse:
        if request.host not in allowed:
            return _json({"error": "this dashboard answers only http://127.0.0.1 requests"}, 403)
        return await handler(request)
    return check


def _asset(name: str) -> web.Response:
    suffix = name[name.rfind("."):] if "." in name else ""
    asset = STATIC / name
    if "/" in name or suffix not in CONTENT_TYPES or not asset.is_file():
        raise web.HTTPNotFound()
    return web.Response(body=asset.read_bytes(), content_type=CONTENT_TYPES[suffix],
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "default-src 'self'"})


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})


async def run_dashboard(api: TrafficApi, scope: Scope, window: str, port: int) -> None:
    """Check that the API answers (one clear error line if not), then serve until cancelled (Ctrl-C)."""
    dashboard = Dashboard(api, scope, window)
    await dashboard.load(window)
    listener = socket.socket()
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, port))   # bound first: the Host check needs the real port when `port` is 0
    except OSError as exc:
        listener.close()
        raise ClientError(f"error: cannot listen on {HOST}:{port}: {exc.strerror or exc}") from exc
    bound = listener.getsockname()[1]
    runner = web.AppRunner(dashboard.application(bound), access_log=None)
    await runner.setup()
    await web.SockSite(runner, listener).start()
    what = f"namespace {scope.namespace}" if scope.namespace else "every namespace"
    print(f"Dashboard of {what} on http://{HOST}:{bound}/ (Ctrl-C to stop)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
