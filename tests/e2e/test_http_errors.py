"""Every failure is a metav1.Status with the right code, over real HTTPS, and Prometheus faults are
reported as 503/504 within the request budget."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from meshsim.process import free_port
from metrics_api.apis.smi import API_PREFIX
from tests.support.serverproc import ServerProcess

P = API_PREFIX


def assert_status(reply, code: int, reason: str) -> dict:
    assert reply.status == code, reply.body[:300]
    assert reply.headers["Content-Type"].startswith("application/json")
    status = reply.json()
    assert (status["kind"], status["apiVersion"], status["status"]) == ("Status", "v1", "Failure")
    assert status["code"] == code and status["reason"] == reason and status["message"]
    return status


@pytest.fixture(scope="module")
def server(api_server):
    return api_server("linkerd")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_write_verbs_are_405(server, method):
    assert_status(server.get(f"{P}/namespaces/shop/deployments/web", method=method), 405, "MethodNotAllowed")


def test_watch_is_405(server):
    assert_status(server.get(f"{P}/namespaces/shop/deployments?watch=true"), 405, "MethodNotAllowed")


@pytest.mark.parametrize("path", [f"{P}/namespaces/shop/widgets", f"{P}/widgets", "/apis/other.group/v1", "/nope",
                                  f"{P}/namespaces/shop/deployments/web/edges/more"])
def test_unknown_paths_are_404(server, path):
    assert_status(server.get(path), 404, "NotFound")


def test_unknown_resource_is_404_with_details(server):
    status = assert_status(server.get(f"{P}/namespaces/shop/deployments/nothere"), 404, "NotFound")
    assert status["details"] == {"name": "nothere", "group": "metrics.smi-spec.io", "kind": "deployments"}
    assert status["message"] == 'deployments.metrics.smi-spec.io "nothere" not found'


@pytest.mark.parametrize("t", ["0s", "25h", "forever", "-5m"])
def test_bad_windows_are_400(server, t):
    assert_status(server.get(f"{P}/namespaces/shop/deployments/web?t={t}"), 400, "BadRequest")


@pytest.mark.parametrize("name", ["%22", "web%22%7D", "a%7Cb", ".*", ".%2B", "%7D", "UPPER", "a%0Ab",
                                  "web%22,namespace=%22kube-system"])
def test_hostile_names_are_400_before_any_query(server, name):
    assert_status(server.get(f"{P}/namespaces/shop/deployments/{name}"), 400, "BadRequest")
    assert_status(server.get(f"{P}/namespaces/{name}/deployments"), 400, "BadRequest")


def test_unknown_query_parameters_are_ignored(server):
    assert server.get(f"{P}/namespaces/shop/deployments?limit=500&resourceVersion=0&timeout=32s").status == 200


def test_health_endpoints(server):
    for path in ("/healthz", "/livez", "/readyz"):
        reply = server.get(path)
        assert (reply.status, reply.body) == (200, b"ok"), path


def test_own_metrics_count_requests_by_code_and_path_template(server):
    server.get(f"{P}/namespaces/shop/deployments/nothere")
    text = server.get("/metrics").body.decode()
    template = f"{P}/namespaces/{{namespace}}/{{plural}}/{{name}}"
    assert f'smi_metrics_api_requests_total{{code="404",group="metrics.smi-spec.io",path="{template}"}}' in text
    for family in ("smi_metrics_api_request_duration_seconds_bucket", "smi_metrics_api_requests_in_flight",
                   "smi_metrics_api_prometheus_queries_total", "smi_metrics_api_prometheus_query_duration_seconds",
                   "smi_metrics_api_cache_requests_total"):
        assert family in text


def test_prometheus_unreachable_is_503_quickly_and_still_ready(tmp_path):
    server = ServerProcess(f"http://127.0.0.1:{free_port()}", "--mesh", "linkerd", cert_dir=tmp_path)
    try:
        started = time.monotonic()
        status = assert_status(server.get(f"{P}/namespaces/shop/deployments/web"), 503, "ServiceUnavailable")
        assert time.monotonic() - started < 1.0
        assert "unreachable" in status["message"]
        assert server.get("/readyz").status == 200   # CONTRACT §2: readiness does not follow Prometheus
        assert server.get("/livez").status == 200
    finally:
        server.stop()


class SilentUpstream:
    """Accepts connections and never answers: a Prometheus that is too slow."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_slow_prometheus_is_504_within_the_budget(tmp_path):
    upstream = SilentUpstream()
    server = ServerProcess(f"http://127.0.0.1:{upstream.port}", "--mesh", "linkerd", "--request-timeout", "1",
                           cert_dir=tmp_path)
    try:
        started = time.monotonic()
        status = assert_status(server.get(f"{P}/namespaces/shop/deployments/web"), 504, "Timeout")
        assert time.monotonic() - started < 5
        assert "did not answer within 1.0s" in status["message"]
    finally:
        server.stop()
        upstream.close()
