"""The HTTPS listener: TLS connections that cost little while idle, and time limits on what a client
that has not sent a request yet may hold.

asyncio's TLS layer (sslproto.SSLProtocol) allocates and zero-fills a 256 KiB receive buffer per
connection the moment it is accepted: 3,000 connections that never finished their request head held
830 MiB. A TLS record carries at most 16 KiB of plaintext, so reading 16 KiB (+ record overhead) at a
time loses nothing; the listener below reads that much at a time into one buffer for all its
connections (see _SharedBufferTls). Time limits follow k8s.io/apiserver's secure
serving (server/secure_serving.go: `ReadHeaderTimeout: 32 * time.Second`, which Go's net/http also
applies to the TLS handshake, and `IdleTimeout: 90 * time.Second`): a handshake and a request head each
get 32 s (the head from the handshake, or from its first byte on a kept-alive connection: see
protocol.StatusRequestHandler), a kept-alive connection 90 s of silence between requests. kube-apiserver
has no flag for either; neither has this server."""
from __future__ import annotations

import asyncio
import collections
import ssl
from asyncio import sslproto
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from metrics_api.http.protocol import StatusAppRunner

TLS_READ_SIZE = 16 * 1024 + 256   # one TLS record: 2^14 bytes of plaintext plus header and MAC/padding


@dataclass(frozen=True)
class ConnectionLimits:
    handshake_seconds: float = 32.0   # secure_serving.go ReadHeaderTimeout, as Go applies it to the handshake
    head_seconds: float = 32.0        # secure_serving.go ReadHeaderTimeout
    idle_seconds: float = 90.0        # secure_serving.go IdleTimeout: between requests on a kept-alive connection
    handshakes_per_turn: int = 8      # TLS handshake steps per event-loop turn (HandshakePacer)


async def listen(app: web.Application, host: str, port: int, context: ssl.SSLContext, drain_seconds: float,
                 limits: ConnectionLimits = ConnectionLimits()) -> web.AppRunner:
    """`app` served over TLS on host:port; cleaning up the returned runner stops it (in-flight requests get
    `drain_seconds` to finish)."""
    runner = StatusAppRunner(app, access_log=None, shutdown_timeout=drain_seconds,
                             keepalive_timeout=limits.idle_seconds, head_timeout=limits.head_seconds)
    await runner.setup()
    await TlsSite(runner, host, port, context, limits).start()
    return runner


class HandshakePacer:
    """At most `per_turn` TLS handshake steps per turn of the event loop; the others wait for the next
    turns, in order. A step that reads a ClientHello (key exchange, signature, then the connection's HTTP
    setup) costs about a millisecond of CPU: 3,000 connections opened at once put seconds of them into
    a few turns, and every request on an established connection waited behind them (the hostile soak's
    p99, tests/perf/RESULTS.md). Go's scheduler interleaves handshake goroutines with the others; this
    interleaves turns. Nothing is refused, and no step waits on a peer, so a client that stalls its
    handshake holds nothing up."""

    def __init__(self, loop: asyncio.AbstractEventLoop, per_turn: int) -> None:
        self._loop = loop
        self._per_turn = per_turn
        self._used = 0
        self._waiting: collections.deque[Callable[[], None]] = collections.deque()
        self._turn_scheduled = False

    def run(self, step: Callable[[], None]) -> None:
        if self._used < self._per_turn and not self._waiting:
            self._used += 1
            step()
        else:
            self._waiting.append(step)
        if not self._turn_scheduled:
            self._turn_scheduled = True
            self._loop.call_soon(self._next_turn)   # runs at the start of the next turn, before its I/O

    def _next_turn(self) -> None:
        self._turn_scheduled = False
        self._used = 0
        try:
            while self._waiting and self._used < self._per_turn:
                self._used += 1
                self._waiting.popleft()()
        finally:
            if self._waiting:
                self._turn_scheduled = True
                self._loop.call_soon(self._next_turn)


class _SharedBufferTls(sslproto.SSLProtocol):
    """asyncio's TLS protocol reading into one buffer shared by every connection of the listener instead of
    a buffer each. Safe with the selector event loop (the only one on Linux and macOS): it calls
    `get_buffer`, `recv_into` and `buffer_updated` in one go, and `buffer_updated` copies the bytes out
    into the connection's own MemoryBIO at once. (The Windows proactor loop reads in the background
    and could not share it.)"""

    max_size = TLS_READ_SIZE

    def __init__(self, loop: asyncio.AbstractEventLoop, app_protocol: asyncio.BaseProtocol,
                 context: ssl.SSLContext, shared: memoryview, handshake_timeout: float,
                 pacer: HandshakePacer) -> None:
        super().__init__(loop, app_protocol, context, None, server_side=True,
                         ssl_handshake_timeout=handshake_timeout)
        self._ssl_buffer, self._ssl_buffer_view = shared.obj, shared   # the buffer __init__ made is freed
        self._pacer = pacer

    def _do_handshake(self) -> None:
        """Called by asyncio at the start and when handshake bytes arrive (they wait in the incoming BIO
        meanwhile); with nothing to read, a step only finds that out."""
        if self._incoming.pending:
            self._pacer.run(self._handshake_step)
        else:
            super()._do_handshake()

    def _handshake_step(self) -> None:
        if self._state == sslproto.SSLProtocolState.DO_HANDSHAKE:   # not closed or timed out meanwhile
            super()._do_handshake()


class TlsSite(web.TCPSite):
    """web.TCPSite, but terminating TLS with _SharedBufferTls (the protocol asyncio itself would wrap
    around aiohttp's, with a zero-filled 256 KiB buffer of its own per connection)."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, context: ssl.SSLContext,
                 limits: ConnectionLimits) -> None:
        super().__init__(runner, host, port, ssl_context=context)
        self._limits = limits
        self._buffer = memoryview(bytearray(TLS_READ_SIZE))

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        handler = self._runner.server
        assert handler is not None and self._ssl_context is not None
        context, timeout, shared = self._ssl_context, self._limits.handshake_seconds, self._buffer
        pacer = HandshakePacer(loop, self._limits.handshakes_per_turn)

        def connection() -> sslproto.SSLProtocol:
            return _SharedBufferTls(loop, handler(), context, shared, timeout, pacer)

        self._server = await loop.create_server(connection, self._host, self._port, backlog=self._backlog,
                                                reuse_address=self._reuse_address)
        self._bound_port = self._server.sockets[0].getsockname()[1] if self._server.sockets else self._port
