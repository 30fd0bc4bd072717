"""A loopback proxy in front of a real Prometheus that can delay, drop, refuse or garble answers and
records every query it forwards; it runs its own event loop in a thread so tests drive it directly."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import aiohttp
import orjson
from aiohttp import web

from meshsim.process import free_port

# Fault names: what the proxy does instead of forwarding.
DROP = "drop"              # close the connection without an answer
ERROR = "error"            # Prometheus' own error document (`status: error`), HTTP 422
MALFORMED = "malformed"    # HTTP 200 with a body that is not JSON
HUGE = "huge"              # HTTP 200 with a valid but very large body
CLOSING = "closing"        # the error a Prometheus that is shutting down answers


@dataclass
class FaultProxy:
    upstream: str
    port: int = field(default_factory=free_port)
    delay: float = 0.0                  # seconds before answering (or failing)
    fault: str | None = None
    huge_bytes: int = 8 << 20
    rewrite: Callable[[bytes], bytes] | None = None   # applied to every forwarded answer's body
    queries: list[str] = field(default_factory=list, repr=False)
    in_flight: int = 0
    max_in_flight: int = 0

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def refuse(self) -> None:
        """Close the listening socket: connections are refused, as when Prometheus is stopped."""
        self._call(self._close_site())

    def accept(self) -> None:
        self._call(self._open_site())

    def heal(self) -> None:
        self.delay, self.fault, self.rewrite = 0.0, None, None

    def _call(self, coroutine) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application(client_max_size=16 << 20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        await self._open_site()

    async def _stop(self) -> None:
        assert self._runner is not None and self._session is not None
        await self._runner.cleanup()
        await self._session.close()

    async def _open_site(self) -> None:
        if self._site is None:
            self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
            await self._site.start()

    async def _close_site(self) -> None:
        if self._site is not None:
            await self._site.stop()
            self._site = None
        assert self._runner is not None and self._runner.server is not None
        for connection in self._runner.server.connections:   # kept-alive ones too, as a stopped process would
            connection.force_close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        form = dict(await request.post()) if request.method == "POST" else {}
        form.update(request.query)
        if "query" in form:
            self.queries.append(str(form["query"]))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return await self._answer(request, form)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request, form: dict) -> web.StreamResponse:
        if self.fault == DROP:
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if self.fault in (ERROR, CLOSING):
            error = ("query processing would load too many samples" if self.fault == ERROR else
                     "open querier for block 01M8NPQB58WQHYKKP1QZ0YYGXY: open index reader: block is closing")
            document = {"status": "error", "errorType": "execution", "error": error}
            return web.Response(status=422, body=orjson.dumps(document), content_type="application/json")
        if self.fault == MALFORMED:
            return web.Response(body=b'{"status":"success","data":{"resultType":', content_type="application/json")
        if self.fault == HUGE:
            padding = b" " * self.huge_bytes
            return web.Response(body=b'{"status":"success","data":{"resultType":"vector","result":[' + padding + b"]}}",
                                content_type="application/json")
        assert self._session is not None
        async with self._session.request(request.method, self.upstream + request.path, data=form or None) as upstream:
            body = await upstream.read()
            if self.rewrite is not None:
                body = self.rewrite(body)
            return web.Response(status=upstream.status, body=body, content_type="application/json")


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    """A started FaultProxy in front of `upstream`, stopped on exit (for fixtures of any scope)."""
    proxy = FaultProxy(upstream).start()
    try:
        yield proxy
    finally:
        proxy.stop()
