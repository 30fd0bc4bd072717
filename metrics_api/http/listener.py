"""The HTTPS listener: TLS connections that cost little while idle, and time limits on what a client
that has not sent a request yet may hold.

asyncio's TLS layer (sslproto.SSLProtocol) allocates and zero-fills a 256 KiB receive buffer per
connection the moment it is accepted: 3,000 connections that never finished their request head held
830 MiB. A TLS record carries at most 16 KiB of plaintext, so reading 16 KiB (+ record overhead) at a
time loses nothing; the listener below uses that size, and bounds the TLS handshake and the request
head as k8s.io/apiserver's secure serving does (secure_serving.go: ReadHeaderTimeout 32 s, which Go
also applies to the handshake; IdleTimeout 90 s)."""
from __future__ import annotations

import asyncio
import ssl
from asyncio import sslproto

from aiohttp import web

# k8s.io/apiserver/pkg/server/secure_serving.go (Serve): `ReadHeaderTimeout: 32 * time.Second` ("just
# shy of requestTimeoutUpperBound"), `IdleTimeout: 90 * time.Second` ("matches http.DefaultTransport
# keep-alive timeout"). Go's net/http bounds the TLS handshake by the same read-header deadline.
HANDSHAKE_TIMEOUT = 32.0
REQUEST_HEAD_TIMEOUT = 32.0
TLS_READ_SIZE = 16 * 1024 + 256   # one TLS record: 2^14 bytes of plaintext plus header and MAC/padding


class _SmallBufferTls(sslproto.SSLProtocol):
    max_size = TLS_READ_SIZE


class TlsSite(web.TCPSite):
    """web.TCPSite, but terminating TLS with _SmallBufferTls (the protocol asyncio itself would wrap
    around aiohttp's, with its 256 KiB buffer)."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, context: ssl.SSLContext,
                 handshake_timeout: float = HANDSHAKE_TIMEOUT) -> None:
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
