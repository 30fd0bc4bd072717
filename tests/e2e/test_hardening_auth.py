"""Hostile clients and operator mishaps (issue 10): serving-certificate rotation seen half done, client
certificates kube-apiserver accepts, idle and half-sent connections, an unauthenticated flood behind a
slow TokenReview, what an anonymous caller can learn, and the smaller TLS and HTTP findings."""
from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from metrics_api.cli.config import Settings
from metrics_api.http.certs import ensure_self_signed
from metrics_api.http.listener import ConnectionLimits, listen
from metrics_api.http.server import Server
from metrics_api.http.tls import ServingTls
from metrics_api.store.prometheus import PrometheusClient
from tests.e2e.test_kube import (  # noqa: F401  (module fixtures, re-registered here)
    Client,
    P,
    allow_everything,
    as_user,
    cluster_server,
    fresh_user,
    proxy,
    proxy_cert,
    served_certificate,
    stub,
    wait_for,
)
from tests.perf.run import rss_kib
from tests.support.catalog import packs
from tests.support.kube_stub import Authority
from tests.support.serverproc import ServerProcess, https_request
from tests.support.x509_variants import CLIENT, Spec, intermediate, issue, write_chain

WORKLOADS = f"{P}/namespaces/shop/deployments"


# ---------------------------------------------------------------- 1: rotation seen half done

def test_certificate_written_before_its_key_keeps_the_previous_pair(tmp_path):
    ca = Authority.create(tmp_path / "serving", "serving-ca")
    live_cert, live_key = tmp_path / "tls.crt", tmp_path / "tls.key"

    def put(source: Path, target: Path) -> None:   # as a Secret volume update: renamed into place
        target.with_suffix(".new").write_bytes(source.read_bytes())
        target.with_suffix(".new").rename(target)

    first_cert, first_key = ca.issue("first", server_hosts=("localhost",))
    put(first_key, live_key)
    put(first_cert, live_cert)
    # Nothing here reaches the store: no Prometheus needed behind the URL.
    server = ServerProcess("http://127.0.0.1:9", "--mesh", "linkerd", "--tls-cert-file", str(live_cert),
                           "--tls-private-key-file", str(live_key), "--reload-interval", "0.5", cert_dir=tmp_path)
    try:
        first = served_certificate(server.port)
        second_cert, second_key = ca.issue("second", server_hosts=("localhost",))
        put(second_cert, live_cert)   # the key follows later
        deadline = time.monotonic() + 2.5   # five reload intervals with a certificate that does not match its key
        while time.monotonic() < deadline:
            assert served_certificate(server.port) == first
            assert server.get("/healthz").status == 200
            time.sleep(0.2)
        put(second_key, live_key)
        wait_for(lambda: served_certificate(server.port).subject != first.subject)
        assert server.get("/healthz").status == 200
        assert "still serving the previous one" in server.log_path.read_text()
    finally:
        server.stop()


# ---------------------------------------------------------------- 2 and 15: client certificates as kube takes them

def test_front_proxy_chains_go_accepts_are_accepted(cluster_server, stub, proxy_cert, tmp_path):
    """A CA without KeyUsage or SubjectKeyIdentifier and with a non-critical BasicConstraints, an
    intermediate the proxy sends along, a leaf without AuthorityKeyIdentifier: Go's x509 (so kube-apiserver)
    accepts it, Web-PKI rules refuse it."""
    server = cluster_server("linkerd")
    root = issue(Spec("front-proxy-ca-variant", ca=True, bc_critical=False, key_usage=None, ski=False))
    middle = intermediate(root, key_kind="rsa")
    client_leaf = issue(Spec("front-proxy-client", ca=None, key_usage=None, aki=False, eku=(CLIENT,)), middle)
    chain = write_chain(tmp_path / "variant", [client_leaf, middle])
    variant_ca = Authority(root.certificate, root.key, tmp_path / "unused")

    def answers(cert) -> int:
        client = Client(server, cert)
        try:
            return client.get(P, as_user(fresh_user("variant")))[0]
        except (ssl.SSLError, ConnectionError):
            return 0
        finally:
            client.close()

    try:
        stub.set_authentication(variant_ca, ["front-proxy-client"])
        wait_for(lambda: answers(chain) == 200)
    finally:
        stub.set_authentication(stub.front_proxy_ca, ["front-proxy-client"])
        wait_for(lambda: answers(proxy_cert) == 200)


def test_front_proxy_certificate_with_a_cn_not_allowed_falls_through_to_the_token(cluster_server, stub):
    """kube's union authenticator: the request-header authenticator fails on the CN, the token authenticates."""
    stub.tokens["token-of-tess"] = {"username": "tess", "groups": ["team-a"]}
    client = Client(cluster_server("linkerd"), stub.front_proxy_ca.issue("intruder"))
    stub.subject_access_reviews.clear()
    code, _ = client.get(WORKLOADS, as_user("admin", "system:masters") + [("Authorization", "Bearer token-of-tess")])
    assert code == 200
    [spec] = stub.subject_access_reviews
    assert (spec["user"], spec["groups"]) == ("tess", ["team-a", "system:authenticated"])
    assert client.get(WORKLOADS, as_user("admin", "system:masters"))[0] == 401   # and without the token, nothing


def test_client_certificate_from_an_unknown_ca_falls_through_to_the_token(cluster_server, stub, tmp_path):
    """kube-apiserver requests client certificates without verifying them in the handshake
    (tls.RequestClientCert): a certificate from a CA nobody trusts fails the x509 authenticator only, and
    the bearer token behind it authenticates. Before, OpenSSL ended the handshake (unknown ca)."""
    stub.tokens["token-of-uma"] = {"username": "uma", "groups": ["team-u"]}
    stranger = Authority.create(tmp_path / "stranger", "stranger-ca").issue("front-proxy-client", ("system:masters",))
    client = Client(cluster_server("linkerd"), stranger)
    try:
        stub.subject_access_reviews.clear()
        code, _ = client.get(WORKLOADS, as_user("admin", "system:masters") + [("Authorization", "Bearer token-of-uma")])
        assert code == 200
        [spec] = stub.subject_access_reviews
        assert (spec["user"], spec["groups"]) == ("uma", ["team-u", "system:authenticated"])
        code, body = client.get(WORKLOADS, as_user("admin", "system:masters"))   # the same connection, no token
        assert (code, body["kind"], body["reason"]) == (401, "Status", "Unauthorized")
    finally:
        client.close()


# ---------------------------------------------------------------- 6: authenticate, authorize, then everything else

REVEALING = [   # each answered 404, 400 or 405 once authorized
    ("GET", f"{P}/nosuchplural"), ("GET", f"{P}/namespaces/shop/deployments/web?t=junk"),
    ("GET", f"{P}/namespaces/shop/deployments/Not_A_Name"), ("GET", f"{WORKLOADS}?watch=true"),
    ("POST", WORKLOADS), ("DELETE", f"{P}/namespaces/shop/deployments/web"), ("GET", "/apis/other.group/v1/things"),
    ("GET", "/nonexistent"), ("POST", "/metrics"),
]


@pytest.mark.parametrize("method, path", REVEALING)
def test_anonymous_and_unauthorized_callers_learn_nothing(cluster_server, stub, method, path):
    server = cluster_server("linkerd")
    anonymous = https_request(server.url + path, method=method)
    assert (anonymous.status, anonymous.json()["reason"]) == (401, "Unauthorized")
    denied_user, allowed_user = fresh_user("denied"), fresh_user("allowed")   # decisions are cached per user
    stub.tokens[denied_user] = {"username": denied_user}
    stub.tokens[allowed_user] = {"username": allowed_user}
    stub.policy = lambda spec: spec["user"] == allowed_user
    denied = https_request(server.url + path, method=method, headers={"Authorization": f"Bearer {denied_user}"})
    assert (denied.status, denied.json()["reason"]) == (403, "Forbidden")
    allowed = https_request(server.url + path, method=method, headers={"Authorization": f"Bearer {allowed_user}"})
    assert allowed.status in (400, 404, 405) and allowed.json()["kind"] == "Status"


# ---------------------------------------------------------------- 5: admission after authentication

def test_unauthenticated_flood_behind_a_slow_token_review_does_not_starve_a_user(cluster_server, stub, proxy_cert):
    server = cluster_server("linkerd", "--max-in-flight", "4")
    legitimate = Client(server, proxy_cert)
    assert legitimate.get(WORKLOADS, as_user("warm"))[0] == 200
    flood_size = 120
    stub.token_review_seconds = 4.0
    stub.token_reviews.clear()
    try:
        with ThreadPoolExecutor(flood_size) as pool:
            flood = [pool.submit(https_request, server.url + WORKLOADS, timeout=30,
                                 headers={"Authorization": f"Bearer made-up-{i}"}) for i in range(flood_size)]
            wait_for(lambda: len(stub.token_reviews) >= 4, timeout=20)   # the flood is waiting on reviews
            started = time.monotonic()
            codes = [legitimate.get(WORKLOADS, as_user(fresh_user("busy")))[0] for _ in range(10)]
            took = time.monotonic() - started
            flooded = sorted(f.result().status for f in flood)
    finally:
        stub.token_review_seconds = 0.01
    print(f"\nlegitimate user during the flood: {codes} in {took:.2f}s; flood answers: "
          f"{ {c: flooded.count(c) for c in set(flooded)} }; TokenReviews sent: {len(stub.token_reviews)}")
    assert codes == [200] * 10 and took < 4.0   # neither refused nor waiting behind the reviews
    assert set(flooded) <= {401, 429} and 429 in flooded   # at most 64 reviews pending: the rest refused at once
    assert len(stub.token_reviews) <= 64 + 4


# ---------------------------------------------------------------- 3: idle and half-sent connections

def _half_requests(port: int, count: int) -> list[ssl.SSLSocket]:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    held = []
    for _ in range(count):
        tls = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
        tls.sendall(b"GET /apis HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        held.append(tls)
    return held


def _closed_by_server(connection: socket.socket) -> bool:
    try:
        connection.settimeout(0.05)
        return connection.recv(1) == b""
    except (TimeoutError, ssl.SSLWantReadError, BlockingIOError):
        return False
    except OSError:
        return True


def test_idle_and_half_sent_connections_are_cheap_and_handshakes_bounded(api_server):
    """Before: each TLS connection held a 256 KiB buffer and nothing was ever closed (3,000 half-sent
    requests: 885 MiB). Now ~40 KiB each, and a TLS handshake that never comes is given up after 32 s."""
    server = api_server("linkerd")
    count = 300
    before = rss_kib(server.proc.pid, "VmRSS")
    held = _half_requests(server.port, count)
    silent = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]   # no ClientHello at all
    opened = time.monotonic()
    grown = rss_kib(server.proc.pid, "VmRSS") - before
    per_connection = grown / count
    print(f"\n{count} half-sent requests: RSS +{grown / 1024:.1f} MiB, {per_connection:.0f} KiB each")
    try:
        assert per_connection < 100
        assert server.get(P).status == 200   # still serving
        wait_for(lambda: all(_closed_by_server(c) for c in silent), timeout=50)
        print(f"silent connections closed by the server after {time.monotonic() - opened:.0f}s")
    finally:
        for connection in held + silent:
            connection.close()


@contextlib.asynccontextmanager
async def _listener(tmp_path: Path, limits: ConnectionLimits) -> AsyncIterator[int]:
    """A server (no store behind it) listening on loopback with `limits`: its port."""
    settings = Settings(prometheus_url="http://127.0.0.1:9", mesh="linkerd", local=True)
    cert, key = ensure_self_signed(tmp_path)
    tls = ServingTls(cert, key, refresh_seconds=60)
    runner = await listen(Server(settings, packs.load("linkerd"), PrometheusClient(settings.prometheus_url)).application(),
                          "127.0.0.1", 0, tls.context, 1.0, limits)
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


def _insecure() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


async def test_incomplete_request_heads_and_idle_connections_are_closed(tmp_path):
    """The listener's limits, with short values: a half-sent head, a finished keep-alive exchange left
    idle and a TCP connection without a ClientHello are all closed by the server."""
    async with _listener(tmp_path, ConnectionLimits(handshake_seconds=1, head_seconds=1, idle_seconds=1)) as port:
        half_reader, half = await asyncio.open_connection("127.0.0.1", port, ssl=_insecure())
        half.write(b"GET /apis HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        idle_reader, idle = await asyncio.open_connection("127.0.0.1", port, ssl=_insecure())
        idle.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await idle_reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200")
        silent_reader, silent = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        for reader in (half_reader, idle_reader, silent_reader):
            assert await asyncio.wait_for(reader.read(), 10) == b""   # EOF: closed by the server
        assert time.monotonic() - started < 5
        for writer in (half, idle, silent):
            writer.close()


async def test_a_request_head_gets_the_header_timeout_not_the_idle_one(tmp_path):
    """Go's ReadHeaderTimeout (32 s in kube) bounds a request head, counted from the handshake or, on a
    kept-alive connection, from the head's first byte; IdleTimeout (90 s) only the silence between
    requests. Before, one aiohttp timer with the idle bound covered both: a half-sent head got 90 s."""
    head_seconds = 1.0
    async with _listener(tmp_path, ConnectionLimits(handshake_seconds=5, head_seconds=head_seconds,
                                                    idle_seconds=30)) as port:
        half_reader, half = await asyncio.open_connection("127.0.0.1", port, ssl=_insecure())
        half.write(b"GET /apis HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        kept_reader, kept = await asyncio.open_connection("127.0.0.1", port, ssl=_insecure())
        kept.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await kept_reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert await asyncio.wait_for(half_reader.read(), 10) == b""
        assert time.monotonic() - started < head_seconds + 2
        await asyncio.sleep(head_seconds)   # idle for twice the head bound: idle, so kept open
        kept.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await kept_reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200")

        async def trickle() -> None:   # a head one byte at a time: each byte in time, the whole head not
            for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: yes\r\n\r\n":
                kept.write(bytes([byte]))
                await asyncio.sleep(head_seconds / 5)

        trickling = asyncio.create_task(trickle())
        started = time.monotonic()
        assert await asyncio.wait_for(kept_reader.read(), 10) == b""
        assert time.monotonic() - started < head_seconds + 2
        trickling.cancel()
        for writer in (half, kept):
            writer.close()


# ---------------------------------------------------------------- 15: TLS suites, Server header, health methods

def test_tls_1_2_offers_no_cbc_suites(api_server):
    port = api_server("linkerd").port
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256:"
                        "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-SHA:AES256-SHA")
    with pytest.raises(ssl.SSLError), socket.create_connection(("127.0.0.1", port)) as raw:
        context.wrap_socket(raw)
    context.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    with socket.create_connection(("127.0.0.1", port)) as raw, context.wrap_socket(raw) as tls:
        assert tls.version() == "TLSv1.2"


def test_server_header_names_no_versions(api_server):
    server = api_server("linkerd")
    for path in ("/healthz", P, f"{P}/nosuchplural"):
        assert server.get(path).headers.get("Server") == "smi-metrics-api"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_health_answers_get_and_head_only(api_server, method):
    server = api_server("linkerd")
    for path in ("/healthz", "/livez", "/readyz"):
        reply = https_request(server.url + path, method=method)
        assert (reply.status, reply.json()["kind"], reply.json()["reason"]) == (405, "Status", "MethodNotAllowed")
    assert https_request(server.url + "/healthz", method="HEAD").status == 200

