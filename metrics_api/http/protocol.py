"""aiohttp's own answers to requests it cannot parse (request line > 8190 bytes, too many headers, bad
bytes in the path, an unknown method) as metav1.Status JSON like every other error, with a fixed
message: aiohttp's plain-text answer echoes the request, and logs a traceback per malformed request.

aiohttp has one hook for these, RequestHandler.handle_error (aiohttp/web_protocol.py); the handler class
is chosen by web.Server.__call__, which the runner's _make_server creates (its designated override)."""
from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, BadStatusLine, InvalidHeader, InvalidURLError, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from metrics_api.core.errors import ApiError

log = logging.getLogger("metrics_api")

# Most specific first: BadHttpMethod is a BadStatusLine. kube-apiserver answers an unknown method 405.
_ANSWERS: tuple[tuple[type[BaseException], int, str], ...] = (
    (LineTooLong, 400, "the request line or a header field is too long"),
    (BadHttpMethod, 405, "the server does not allow this method on the requested resource"),
    (InvalidURLError, 400, "the request target is not a valid URL"),
    (BadStatusLine, 400, "the request line is malformed"),
    (InvalidHeader, 400, "a header field is malformed"),
)


class StatusRequestHandler(RequestHandler):
    """Also gives a request head `head_timeout` seconds to arrive whole, counted from the handshake on a new
    connection and from the first byte of the next request on a kept-alive one, as Go's net/http applies
    k8s.io/apiserver's `ReadHeaderTimeout: 32 * time.Second` (server/secure_serving.go; net/http server.go
    sets the header deadline when it starts reading a request, after the idle wait's first bytes). aiohttp's
    own timer (keepalive_timeout, the idle bound) would let a half-sent head hold the connection for as long
    as an idle one. Like Go, the connection is then closed without an answer."""

    __slots__ = ("_head_clock", "_head_seconds")

    def __init__(self, manager: web.Server, *, head_timeout: float, **kwargs) -> None:
        super().__init__(manager, **kwargs)
        self._head_seconds = head_timeout
        self._head_clock: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._start_head_clock()

    def data_received(self, data: bytes) -> None:
        waiting = self._waiter is not None and not self._messages   # these bytes begin the next request head
        parsed = self._request_count
        super().data_received(data)
        if self._request_count != parsed:
            self._stop_head_clock()
        elif waiting and self._head_clock is None:
            self._start_head_clock()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stop_head_clock()
        super().connection_lost(exc)

    def _start_head_clock(self) -> None:
        self._head_clock = self._loop.call_later(self._head_seconds, self._head_timed_out)

    def _stop_head_clock(self) -> None:
        if self._head_clock is not None:
            self._head_clock.cancel()
            self._head_clock = None

    def _head_timed_out(self) -> None:
        self._head_clock = None
        if self._waiter is not None and not self._waiter.done():   # still no whole head to handle
            log.debug("closing a connection whose request head did not arrive within %gs", self._head_seconds)
            self.force_close()

    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        code, text = _answer(status, exc)
        log.debug("malformed request from %s: %s: %s", request.remote, type(exc).__name__, text)
        if request.writer.output_size > 0:   # as aiohttp: the answer has begun, the connection is broken
            raise ConnectionError("response already started, cannot send the error")
        error = ApiError(code, text)
        response = web.Response(status=code, body=error.body(), content_type="application/json")
        response.force_close()
        return response


def _answer(status: int, exc: BaseException | None) -> tuple[int, str]:
    for kind, code, text in _ANSWERS:
        if isinstance(exc, kind):
            return code, text
    if status >= 500:
        return 500, "internal error while reading the request"
    return status, "the request is not valid HTTP"


class _StatusServer(web.Server):
    def __call__(self) -> RequestHandler:
        return StatusRequestHandler(self, loop=self._loop, **self._kwargs)


class StatusAppRunner(web.AppRunner):
    """web.AppRunner whose connections answer unparsable requests with a Status (StatusRequestHandler)."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _StatusServer   # the same object and fields; only __call__ differs
        return server
