"""Caching and coalescing, measured at the store (a recording proxy in front of the real Prometheus), and
an independent oracle (prometheus-api-client querying the same Prometheus directly)."""
from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from prometheus_api_client import PrometheusConnect

from metrics_api.apis.smi import API_PREFIX
from tests.support.faultproxy import FaultProxy
from tests.support.serverproc import ServerProcess, server_pool

P = API_PREFIX
# Every server probes its store with this query every 5 s (metrics_api/http/health.py); Prometheus' own
# query counter cannot tell those from a request's queries (with several servers running, a burst often
# saw one or two probes), so queries are counted at a proxy that sees each one's text.
READINESS_PROBE = "1"


@pytest.fixture(scope="module")
def counted_server(recording_proxy, tmp_path_factory):
    """`counted_server(mesh, *flags)`: a server whose store is the recording proxy."""
    certs = tmp_path_factory.mktemp("counted")
    with server_pool(lambda mesh, *flags: ServerProcess(recording_proxy.url, "--mesh", mesh, *flags, cert_dir=certs)) as start:
        yield start


def store_queries(store: FaultProxy) -> int:
    """Queries the store received so far, readiness probes left out."""
    return sum(query != READINESS_PROBE for query in store.queries)


def at_start_of_an_instant(cache_ttl: float = 5.0) -> None:
    """Wait until a fresh evaluation instant has just begun: the server quantizes evaluation times to
    its cache TTL, and requests that straddle two instants rightly run two query sets."""
    time.sleep(cache_ttl - time.time() % cache_ttl + 0.05)


# Queries one request costs, counted by hand from the packs (queries/*.yaml), never from the planner:
# a view is one counts query and one bucket query (p50, p90, p99 are computed from its answer); a GET or
# list adds one counts query of the kind's `to`-edge view (a pure client is listed with zero inbound
# traffic); edges are the `to` and `from` views, two each. `trafficmetrics` asks every workload kind:
# Linkerd's series carry the kind (4 kinds × 3), Istio's do not, so one kind's queries answer all. Istio
# in --local mode adds its two `workload_pods` queries (the kinds read from pod names).
# (Before issue 15 a view cost a counts query and three histogram_quantile queries: 5, 5, 8, 20, 5, 8, 5.)
QUERIES = {
    ("linkerd", "namespaces/shop/deployments/web"): 3,
    ("linkerd", "namespaces/shop/deployments"): 3,
    ("linkerd", "namespaces/shop/deployments/web/edges"): 4,
    ("linkerd", "namespaces/shop/trafficmetrics"): 12,
    ("istio", "namespaces/shop/deployments/web"): 3 + 2,
    ("istio", "namespaces/shop/deployments/web/edges"): 4 + 2,
    ("istio", "namespaces/shop/trafficmetrics"): 3 + 2,
}


async def fetch_many(url: str, count: int) -> list[int]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False, limit=count)) as session:
        async def one() -> int:
            async with session.get(url) as response:
                await response.read()
                return response.status
        return await asyncio.gather(*(one() for _ in range(count)))


async def test_100_concurrent_identical_cold_requests_cause_one_query_set(counted_server, recording_proxy):
    server = counted_server("linkerd")
    path, window = f"{P}/namespaces/shop/deployments/web", "47s"   # a window no other test uses: cold
    at_start_of_an_instant()
    before = store_queries(recording_proxy)
    statuses = await fetch_many(f"{server.url}{path}?t={window}", 100)
    after = store_queries(recording_proxy)
    assert statuses == [200] * 100
    assert after - before == QUERIES["linkerd", "namespaces/shop/deployments/web"]


def test_a_repeated_request_is_served_from_the_cache(counted_server, recording_proxy):
    server = counted_server("linkerd")
    path = f"{P}/namespaces/shop/deployments/api/edges?t=53s"
    at_start_of_an_instant()
    first = server.get(path)
    before = store_queries(recording_proxy)
    second = server.get(path)
    assert store_queries(recording_proxy) == before
    assert second.json() == first.json()


@pytest.mark.parametrize("mesh, request_path", QUERIES)
def test_without_cache_every_request_costs_its_queries(counted_server, recording_proxy, mesh, request_path):
    server = counted_server(mesh, "--cache-ttl", "0")
    path = f"{P}/{request_path}?t=59s"
    assert server.get(path).status == 200
    before = store_queries(recording_proxy)
    assert server.get(path).status == 200
    assert store_queries(recording_proxy) - before == QUERIES[mesh, request_path]


@pytest.mark.parametrize("mesh, promql", [
    ("linkerd", 'sum(increase(response_total{direction="inbound",namespace="shop",deployment="web"}[1m]))'),
    ("istio", 'sum(increase(istio_requests_total{reporter="destination",destination_workload_namespace="shop",'
              'destination_workload="web"}[1m]))'),
])
def test_request_count_agrees_with_an_independent_client(api_server, prometheus, mesh, promql):
    oracle = PrometheusConnect(url=prometheus.url, disable_ssl=True)
    expected = float(oracle.custom_query(promql)[0]["value"][1])
    item = api_server(mesh).get(f"{P}/namespaces/shop/deployments/web?t=1m").json()
    values = {m["name"]: m["value"] for m in item["metrics"]}
    total = int(values["success_count"]) + int(values["failure_count"])
    # Over a whole number of scrape steps the scenario's increases are whole requests: equal after rounding.
    assert total == round(expected)
