"""The HTTPS listener: TLS connections that cost little while idle, and time limits on what a client
that has not sent a request yet may hold.

asyncio's TLS layer (sslproto.SSLProtocol) allocates and zero-fills a 256 KiB receive buffer per
connection the moment it is accepted: 3,000 connections that never finished their request head held
830 MiB. A TLS record carries at most 16 KiB of plaintext, so reading 16 KiB (+ record overhead) at a
time loses nothing; the listener below uses that size. Time limits follow k8s.io/apiserver's secure
serving (server/secure_serving.go: `ReadHeaderTimeout: 32 * time.Second`, which Go's net/http also
applies to the TLS handshake, and `IdleTimeout: 90 * time.Second`). aiohttp has one timer for "no
complete request head since the connection opened or the last answer": it gets the idle bound, so a
half-sent request head is closed within 90 s (Go: 32 s from its first byte)."""
from __future__ import annotations

import asyncio
import ssl
from asyncio import sslproto
from dataclasses import dataclass

from aiohttp import web

TLS_READ_SIZE = 16 * 1024 + 256   # one TLS record: 2^14 bytes of plaintext plus header and MAC/padding


@dataclass(frozen=True)
class ConnectionLimits:
    handshake_seconds: float = 32.0   # secure_serving.go ReadHeaderTimeout, as Go applies it to the handshake
    idle_seconds: float = 90.0        # secure_serving.go IdleTimeout; also bounds an incomplete request head


async def listen(app: web.Application, host: str, port: int, context: ssl.SSLContext, drain_seconds: float,
                 limits: ConnectionLimits = ConnectionLimits()) -> web.AppRunner:
    """`app` served over TLS on host:port; cleaning up the returned runner stops it (in-flight requests get
    `drain_seconds` to finish)."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=drain_seconds,
                           keepalive_timeout=limits.idle_seconds)
    await runner.setup()
    await TlsSite(runner, host, port, context, limits.handshake_seconds).start()
    return runner


class _SmallBufferTls(sslproto.SSLProtocol):
    max_size = TLS_READ_SIZE


class TlsSite(web.TCPSite):
    """web.TCPSite, but terminating TLS with _SmallBufferTls (the protocol asyncio itself would wrap
    around aiohttp's, with its 256 KiB buffer)."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, context: ssl.SSLContext,
                 handshake_timeout: float) -> None:
        super().__init__(runner, host, port, ssl_context=context)
        self._handshake_timeout = handshake_timeout

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        handler = self._runner.server
        assert handler is not None and self._ssl_context is not None
        context, timeout = self._ssl_context, self._handshake_timeout

        def connection() -> sslproto.SSLProtocol:
            return _SmallBufferTls(loop, handler(), context, None, server_side=True,
                                   ssl_handshake_timeout=timeout)

        self._server = await loop.create_server(connection, self._host, self._port, backlog=self._backlog,
                                                reuse_address=self._reuse_address)
        self._bound_port = self._server.sockets[0].getsockname()[1] if self._server.sockets else self._port
