"""Stores at scale: the server reaches Prometheus through a loopback stand-in for a multi-tenant store
(tests/store_proxy.py) that requires a path prefix and a tenant header, a bearer token (rotated while
the server runs), basic auth, or mutual TLS; and gives the same answer as straight to Prometheus."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from metrics_api.apis.smi import API_PREFIX
from tests.support.serverproc import REPO, ServerProcess
from tests.support.store_proxy import StoreProxy, make_pki, mutual_tls

WEB = f"{API_PREFIX}/namespaces/shop/deployments/web"
TENANT = "/select/0/prometheus"


def values(metrics: list[dict]) -> dict[str, float]:
    suffix = {"m": 1e-3, "k": 1e3}
    return {m["name"]: float(m["value"][:-1]) * suffix[m["value"][-1]] if m["value"][-1] in suffix
            else float(m["value"]) for m in metrics}


class Same:
    """Equal to another answer's metrics up to float noise (evaluation times differ by a few seconds)."""

    def __init__(self, metrics: list[dict]) -> None:
        self.expected = values(metrics)

    def __eq__(self, metrics: object) -> bool:
        return values(metrics) == pytest.approx(self.expected, rel=1e-3, abs=0.002)

    def __repr__(self) -> str:
        return repr(self.expected)


@pytest.fixture(scope="module")
def direct(api_server):
    return Same(api_server("linkerd").get(WEB).json()["metrics"])


@pytest.fixture
def run(tmp_path):
    started = []

    def start(url: str, *flags: str) -> ServerProcess:
        server = ServerProcess(url, "--mesh", "linkerd", "--cache-ttl", "0", *flags, cert_dir=tmp_path)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_path_prefix_and_tenant_headers(prometheus, run, direct):
    with StoreProxy(prometheus.url, prefix=TENANT, headers={"X-Scope-OrgID": "team-a", "X-Extra": "1"}) as store:
        assert run(store.url, "--prometheus-header", "X-Scope-OrgID: team-a",
                   "--prometheus-header", "X-Extra: 1").get(WEB).json()["metrics"] == direct
        assert store.accepted >= 4 and not store.rejected
        refused = run(store.url, "--prometheus-header", "X-Scope-OrgID: team-b").get(WEB)
        assert refused.status >= 500 and "401" in refused.json()["message"]
        assert any("X-Scope-OrgID" in reason for reason in store.rejected)


def test_headers_from_the_environment_one_per_line(prometheus, tmp_path, direct):
    with StoreProxy(prometheus.url, prefix=TENANT, headers={"X-Scope-OrgID": "team-a", "X-Extra": "1"}) as store:
        server = ServerProcess(store.url, "--mesh", "linkerd", cert_dir=tmp_path,
                               env={"SMI_METRICS_PROMETHEUS_HEADER": "X-Scope-OrgID: team-a\nX-Extra: 1"})
        try:
            assert server.get(WEB).json()["metrics"] == direct
        finally:
            server.stop()


def test_bearer_token_file_is_re_read_when_rotated(prometheus, run, tmp_path, direct):
    token = tmp_path / "token"
    token.write_text("first\n")
    expected = {"value": "Bearer first"}
    with StoreProxy(prometheus.url, authorization=lambda: expected["value"]) as store:
        server = run(store.url, "--prometheus-bearer-token-file", str(token))
        assert server.get(WEB).json()["metrics"] == direct
        expected["value"] = "Bearer second"            # the store rotated its token ...
        assert server.get(WEB).status >= 500
        time.sleep(0.01)
        token.write_text("second\n")                   # ... and the Secret volume caught up
        assert server.get(WEB).json()["metrics"] == direct


def test_basic_auth(prometheus, run, tmp_path, direct):
    password = tmp_path / "password"
    password.write_text("s3cret")
    with StoreProxy(prometheus.url, authorization=lambda: "Basic YWxpY2U6czNjcmV0") as store:   # alice:s3cret
        server = run(store.url, "--prometheus-username", "alice", "--prometheus-password-file", str(password))
        assert server.get(WEB).json()["metrics"] == direct


def test_ca_file_and_client_certificate(prometheus, run, tmp_path, direct):
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")   # not the server's --cert-dir, where it keeps its own ca.crt
    with StoreProxy(prometheus.url, tls=mutual_tls(pki)) as store:
        assert store.url.startswith("https://")
        server = run(store.url, "--prometheus-ca-file", str(pki["ca"]), "--prometheus-cert-file",
                     str(pki["client_cert"]), "--prometheus-key-file", str(pki["client_key"]))
        reply = server.get(WEB)
        assert reply.status == 200, reply.body
        assert reply.json()["metrics"] == direct
        untrusted = run(store.url, "--prometheus-cert-file", str(pki["client_cert"]),
                        "--prometheus-key-file", str(pki["client_key"])).get(WEB)     # no CA: the store is unknown
        assert untrusted.status == 503 and "certificate" in untrusted.json()["message"].lower()
        anonymous = run(store.url, "--prometheus-ca-file", str(pki["ca"])).get(WEB)  # no client certificate
        assert anonymous.status == 503


@pytest.mark.parametrize("flags, message", [
    (["--prometheus-header", "X-Scope-OrgID team-a"], "expected 'Name: value'"),
    (["--prometheus-bearer-token-file", "/nonexistent/token"], "--prometheus-bearer-token-file /nonexistent/token"),
    (["--prometheus-username", "alice"], "go together"),
    (["--prometheus-ca-file", "/nonexistent/ca.pem"], "--prometheus-ca-file"),
    (["--prometheus-cert-file", "/nonexistent/c.pem"], "go together"),
])
def test_bad_store_settings_exit_with_one_clear_line(flags, message):
    done = subprocess.run([sys.executable, "-m", "metrics_api", "serve", "--local", "--mesh", "linkerd",
                           "--prometheus-url", "http://127.0.0.1:1", *flags],
                          cwd=REPO, capture_output=True, text=True, timeout=30)
    errors = [line for line in done.stderr.splitlines() if line.startswith("smi-metrics-api:")]
    assert done.returncode == 2 and len(errors) == 1 and message in errors[0], done.stderr
