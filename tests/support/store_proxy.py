"""A loopback stand-in for a multi-tenant metrics store (Mimir, Thanos, a VictoriaMetrics cluster):
an aiohttp reverse proxy in front of the real Prometheus that only forwards requests meeting its
requirements (path prefix, headers, bearer token, basic auth, TLS client certificate)."""
from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from collections.abc import Callable
from pathlib import Path

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from meshsim.process import free_port


class StoreProxy:
    def __init__(self, upstream: str, *, prefix: str = "", headers: dict[str, str] | None = None,
                 authorization: Callable[[], str] | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.upstream, self.prefix = upstream.rstrip("/"), prefix
        self.headers = headers or {}
        self.authorization = authorization   # the Authorization value required now
        self.tls = tls
        self.port = free_port()
        self.accepted = 0
        self.rejected: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{self.prefix}"

    def __enter__(self) -> StoreProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        asyncio.run_coroutine_threadsafe(self._session.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self.tls).start()

    def _refusal(self, request: web.Request) -> str | None:
        if not request.path.startswith(self.prefix + "/"):
            return f"path {request.path} lacks the prefix {self.prefix}"
        for name, value in self.headers.items():
            if request.headers.get(name) != value:
                return f"header {name} is {request.headers.get(name)!r}"
        if self.authorization is not None and request.headers.get("Authorization") != self.authorization():
            return f"Authorization is {request.headers.get('Authorization')!r}"
        return None

    async def _forward(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal:
            self.rejected.append(refusal)
            return web.Response(status=401, text=f"refused: {refusal}")
        self.accepted += 1
        async with self._session.request(request.method, self.upstream + request.path[len(self.prefix):],
                                         params=request.query, data=await request.read(),
                                         headers={"Content-Type": request.headers.get("Content-Type", "")}) as reply:
            return web.Response(status=reply.status, body=await reply.read(), content_type="application/json")


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write(directory: Path, stem: str, cert: x509.Certificate, key) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def make_pki(directory: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())

    def issue(subject: str, key, ca: bool = False, san: x509.GeneralName | None = None, usage=None):
        builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name("test-ca"))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            builder = builder.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                            critical=True)
            builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        else:
            builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                            critical=False)
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if san is not None:
            builder = builder.add_extension(x509.SubjectAlternativeName([san]), critical=False)
        return builder.sign(ca_key, hashes.SHA256())

    ca_cert, _ = _write(directory, "ca", issue("test-ca", ca_key, ca=True), ca_key)
    server_key, client_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    server = _write(directory, "server", issue("store", server_key, san=x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                               usage=x509.oid.ExtendedKeyUsageOID.SERVER_AUTH), server_key)
    client = _write(directory, "client", issue("smi-metrics-api", client_key, san=x509.DNSName("smi-metrics-api"),
                                               usage=x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH), client_key)
    return {"ca": ca_cert, "server_cert": server[0], "server_key": server[1],
            "client_cert": client[0], "client_key": client[1]}


def mutual_tls(pki: dict[str, Path]) -> ssl.SSLContext:
    """The store's TLS: its certificate, and client certificates signed by the CA required."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki["server_cert"], pki["server_key"])
    context.load_verify_locations(pki["ca"])
    context.verify_mode = ssl.CERT_REQUIRED
    return context
