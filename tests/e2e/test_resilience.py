"""Upstream faults, limits and shutdown: a real server (`python -m metrics_api serve --local`) behind which
a loopback proxy (tests/faultproxy.py) delays, drops, refuses or garbles the real Prometheus' answers."""
from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from metrics_api.apis.smi import API_PREFIX
from metrics_api.core.telemetry import Telemetry
from metrics_api.pipeline.answer_cache import RequestKey, ResponseCache
from metrics_api.pipeline.fetch import Fetcher
from metrics_api.store.prometheus import PrometheusClient
from tests.support.faultproxy import CLOSING, DROP, ERROR, HUGE, MALFORMED, fault_proxy
from tests.support.serverproc import Reply, ServerProcess

WEB = f"{API_PREFIX}/namespaces/shop/deployments/web"
LIST = f"{API_PREFIX}/namespaces/shop/deployments"
BUDGET = 2.0   # --request-timeout of the servers below


@pytest.fixture()
def proxy(prometheus):
    with fault_proxy(prometheus.url) as proxy:
        yield proxy


@pytest.fixture()
def serve(proxy, tmp_path):
    """`serve(*flags)` → a server on the proxy (linkerd pack, --request-timeout 2), stopped after the test."""
    started: list[ServerProcess] = []

    def start(*flags: str) -> ServerProcess:
        server = ServerProcess(proxy.url, "--mesh", "linkerd", "--request-timeout", str(BUDGET), *flags,
                               cert_dir=tmp_path)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def timed_get(server: ServerProcess, path: str) -> tuple[Reply, float]:
    started = time.monotonic()
    reply = server.get(path)
    return reply, time.monotonic() - started


def assert_status(reply: Reply, code: int, *words: str) -> None:
    assert reply.status == code, reply.body[:500]
    status = reply.json()
    assert status["kind"] == "Status" and status["code"] == code
    for word in words:
        assert word in status["message"], status["message"]


def eventually(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


@pytest.mark.parametrize("fault, code, words", [
    (DROP, 503, ("unreachable",)),
    (ERROR, 500, ("execution", "too many samples")),
    (CLOSING, 503, ("block is closing",)),   # Prometheus shutting down
    (MALFORMED, 500, ("not its JSON API",)),
])
def test_upstream_fault_is_a_status_with_the_cause_and_recovers(proxy, serve, fault, code, words):
    server = serve("--cache-ttl", "0")
    assert server.get(WEB).status == 200
    proxy.fault = fault
    reply, elapsed = timed_get(server, WEB)
    assert_status(reply, code, *words)
    assert elapsed < BUDGET + 1
    proxy.heal()
    assert server.get(WEB).status == 200


def test_huge_upstream_body_is_refused_not_buffered(proxy, serve):
    server = serve("--cache-ttl", "0", "--max-prometheus-response-bytes", "100000")
    proxy.fault, proxy.huge_bytes = HUGE, 4 << 20
    assert_status(server.get(WEB), 500, "more than 100000 bytes")
    proxy.heal()
    assert server.get(WEB).status == 200


def test_slow_prometheus_is_504_within_the_budget(proxy, serve):
    server = serve("--cache-ttl", "0")
    proxy.delay = BUDGET * 3
    reply, elapsed = timed_get(server, WEB)
    assert_status(reply, 504, "did not answer within")
    assert BUDGET - 0.2 < elapsed < BUDGET + 1
    assert reply.headers.get("Retry-After") == "1"
    proxy.heal()
    assert server.get(WEB).status == 200


def _store_up(server: ServerProcess) -> str:
    lines = server.get("/metrics").body.decode().splitlines()
    return next(line.split()[-1] for line in lines if line.startswith("smi_metrics_api_store_up "))


def test_stopped_prometheus_is_reported_but_readiness_does_not_follow_it(proxy, serve):
    """CONTRACT §2: an unready endpoint makes kube-aggregator mark the APIService unavailable, which
    breaks discovery cluster-wide; so /readyz stays 200 and only reports the store."""
    server = serve("--cache-ttl", "0")
    assert server.get("/readyz").status == 200
    eventually(lambda: _store_up(server) == "1.0")
    proxy.refuse()
    reply, elapsed = timed_get(server, WEB)
    assert_status(reply, 503, "unreachable")
    assert elapsed < BUDGET
    eventually(lambda: _store_up(server) == "0.0")
    verbose = server.get("/readyz?verbose")
    assert verbose.status == 200, verbose.body
    text = verbose.body.decode()
    assert text.startswith("[+]ping ok\n") and text.endswith("readyz check passed\n"), text
    assert "[+]prometheus unreachable" in text, text
    assert (server.get("/readyz").status, server.get("/readyz").body) == (200, b"ok")
    assert server.get("/livez").status == 200
    proxy.accept()
    eventually(lambda: _store_up(server) == "1.0")
    assert "[+]prometheus reachable" in server.get("/readyz?verbose").body.decode()
    assert server.get(WEB).status == 200


def test_stale_if_error_serves_a_recent_answer_with_a_warning_for_a_bounded_time(proxy, serve):
    server = serve("--cache-ttl", "1", "--stale-if-error", "4")
    fresh = server.get(LIST)
    assert fresh.status == 200 and "Warning" not in fresh.headers
    proxy.refuse()
    time.sleep(1.2)   # past the cache TTL: the answer must come from Prometheus, which is down
    stale = server.get(LIST)
    assert stale.status == 200
    assert stale.headers["Warning"].startswith('299 - "stale answer computed at ')
    assert stale.json()["items"] == fresh.json()["items"]
    time.sleep(4)     # past --stale-if-error
    assert_status(server.get(LIST), 503, "unreachable")
    proxy.accept()
    recovered = server.get(LIST)
    assert recovered.status == 200 and "Warning" not in recovered.headers


def test_without_stale_if_error_prometheus_down_is_503(proxy, serve):
    server = serve("--cache-ttl", "1")
    assert server.get(LIST).status == 200
    proxy.refuse()
    time.sleep(1.2)
    assert_status(server.get(LIST), 503, "unreachable")


def test_excess_requests_in_flight_get_429_with_retry_after(proxy, serve):
    server = serve("--cache-ttl", "0", "--max-in-flight", "2")
    proxy.delay = 1.0
    with ThreadPoolExecutor(8) as pool:
        # distinct windows: no two requests share an answer
        replies = list(pool.map(lambda i: server.get(f"{WEB}?t={30 + i}s"), range(8)))
    codes = sorted(r.status for r in replies)
    assert codes.count(200) >= 2 and set(codes) == {200, 429}, codes
    refused = next(r for r in replies if r.status == 429)
    assert_status(refused, 429, "too many requests in flight")
    assert refused.headers["Retry-After"] == "1"
    assert server.get("/readyz").status == 200   # probes are not subject to the limit


def test_queries_toward_prometheus_are_bounded(proxy, serve):
    server = serve("--cache-ttl", "0", "--max-prometheus-queries", "2")
    proxy.delay = 0.2   # 2 requests × 5 queries, 2 at a time: about 1 s, within the budget
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(lambda i: server.get(f"{LIST}?t={40 + i}s"), range(2)))
    assert [r.status for r in replies] == [200] * 2
    assert proxy.max_in_flight == 2


async def test_caches_are_bounded_in_bytes(prometheus):
    client = PrometheusClient(prometheus.url)
    await client.start()
    try:
        fetcher = Fetcher(client, Telemetry(), ttl=60, max_entries=1000, max_bytes=20_000)
        at = fetcher.evaluation_time()
        queries = [f'sum by (deployment) (increase(response_total{{direction="inbound"}}[{w}s]))' for w in range(10, 60)]
        await fetcher.fetch(queries, at, budget=10)
        assert 0 < fetcher._cache.currsize <= 20_000
        assert len(fetcher._cache) < len(queries)
    finally:
        await client.close()
    responses = ResponseCache(fresh_seconds=60, stale_seconds=0, max_bytes=50_000)

    async def body() -> bytes:
        return b"x" * 4000

    for i in range(100):
        await responses.get(RequestKey(f"/p{i}", 3), 1.0, body)
    assert 0 < responses.bytes <= 50_000


def test_sigterm_fails_readiness_at_once_finishes_in_flight_requests_and_exits_0(proxy, serve):
    server = serve("--cache-ttl", "0", "--shutdown-delay", "1.5", "--drain-timeout", "10")
    assert server.get("/readyz").status == 200
    proxy.delay = 1.0   # every API request is in flight for a second
    statuses: list[int] = []
    refused: list[str] = []
    stop = threading.Event()

    def load(i: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                statuses.append(server.get(f"{WEB}?t={60 + i * 100 + n}s", timeout=15).status)
            except OSError as exc:   # the listener is closed: refused, never a 5xx
                refused.append(type(exc).__name__)
                time.sleep(0.05)

    threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)                                   # requests in flight
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    assert server.get("/readyz").status == 500        # fails at once ...
    assert server.get("/livez").status == 200         # ... while the process still serves
    assert server.proc.wait(20) == 0
    stop.set()
    for thread in threads:
        thread.join(20)
    assert statuses and all(code == 200 for code in statuses), statuses
    assert len(statuses) >= 8   # requests started before and during the shutdown delay completed
    log = Path(server.log_path).read_text()
    assert "shutting down" in log and "Traceback" not in log
