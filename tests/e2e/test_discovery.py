"""Discovery as kubectl and kube-aggregator read it, query parameters clients add, and hang-ups."""
from __future__ import annotations

import asyncio
import logging
import time

import pytest
from aiohttp import web

from metrics_api.apis.smi import API_PREFIX
from metrics_api.cli.config import Settings
from metrics_api.http.server import Server
from metrics_api.store.prometheus import PrometheusClient
from tests.support.catalog import packs

P = API_PREFIX
# The media type kube-aggregator asks for and must get back (k8s.io/apiserver aggregated discovery).
DISCOVERY_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATOR_ACCEPT = f"{DISCOVERY_V2},application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"


# What the linkerd pack serves (CONTRACT §2), in discovery order, written out: (resource, singular, scope).
# Every one has the `edges` subresource; `trafficmetrics` comes last because kubectl maps the kind
# TrafficMetrics, shared by all of them, to the last resource that names it.
LINKERD_RESOURCES = [
    ("deployments", "deployment", "Namespaced"), ("statefulsets", "statefulset", "Namespaced"),
    ("daemonsets", "daemonset", "Namespaced"), ("jobs", "job", "Namespaced"),
    ("replicasets", "replicaset", "Namespaced"), ("pods", "pod", "Namespaced"), ("services", "service", "Namespaced"),
    ("namespaces", "namespace", "Cluster"), ("trafficmetrics", "trafficmetrics", "Namespaced"),
]


@pytest.fixture(scope="module")
def server(api_server):
    return api_server("linkerd")


def test_aggregated_discovery_v2(server):
    reply = server.get("/apis", headers={"Accept": AGGREGATOR_ACCEPT})
    assert reply.status == 200 and reply.headers["Content-Type"] == DISCOVERY_V2
    assert reply.headers["Vary"] == "Accept" and reply.headers["ETag"].startswith('"')
    body = reply.json()
    assert (body["kind"], body["apiVersion"]) == ("APIGroupDiscoveryList", "apidiscovery.k8s.io/v2")
    [group] = body["items"]
    [version] = group["versions"]
    assert group["metadata"]["name"] == "metrics.smi-spec.io" and version["version"] == "v1alpha1"
    assert [(r["resource"], r["singularResource"], r["scope"]) for r in version["resources"]] == LINKERD_RESOURCES
    for resource in version["resources"]:
        assert resource["responseKind"] == {"group": "metrics.smi-spec.io", "version": "v1alpha1", "kind": "TrafficMetrics"}
        assert resource["verbs"] == ["get", "list"]
        assert resource["subresources"] == [{"subresource": "edges", "verbs": ["get"], "responseKind": {
            "group": "metrics.smi-spec.io", "version": "v1alpha1", "kind": "TrafficMetricsList"}}], resource["resource"]
    unchanged = server.get("/apis", headers={"Accept": AGGREGATOR_ACCEPT, "If-None-Match": reply.headers["ETag"]})
    assert unchanged.status == 304 and unchanged.body == b""


def test_apis_without_the_v2_accept_is_an_api_group_list(server):
    for accept in (None, "application/json", "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
                   "application/json"):
        reply = server.get("/apis", headers={"Accept": accept} if accept else {})
        assert reply.status == 200 and reply.json()["kind"] == "APIGroupList", accept


def test_singular_names_never_collide(server):
    resources = server.get(P).json()["resources"]
    words = [r["name"] for r in resources if "/" not in r["name"]] + \
            [r["singularName"] for r in resources if "/" not in r["name"]]
    assert "" not in words and len(words) == len(set(words)) + 1   # only `trafficmetrics` is its own singular
    assert server.get(P, headers={"If-None-Match": "*"}).status == 200   # the probe's document never answers 304


@pytest.mark.parametrize("path", [P, f"{P}/namespaces/shop/deployments", f"{P}/namespaces/shop/deployments/web",
                                  f"{P}/deployments"])
def test_unknown_query_parameters_are_accepted(server, path):
    reply = server.get(f"{path}?timeout=32s&limit=500&resourceVersion=0&continue=&fieldManager=x")
    assert reply.status == 200, reply.body[:300]


@pytest.mark.parametrize("watch", ["true", "1"])
def test_watch_is_405_status(server, watch):
    reply = server.get(f"{P}/namespaces/shop/deployments?watch={watch}")
    assert reply.status == 405
    assert reply.json()["reason"] == "MethodNotAllowed" and "watch is not supported" in reply.json()["message"]


async def test_client_hanging_up_mid_request_is_a_debug_line(prometheus, caplog):
    """The request is held at the authorization seam until its client has reset the connection; the
    answer then fails to write, which must cost one DEBUG line and nothing louder."""
    caplog.set_level(logging.DEBUG, logger="metrics_api")
    held: list[web.Request] = []
    release = asyncio.Event()

    class Holding:
        async def authenticate(self, request: web.Request) -> None:
            return None

        async def authorize(self, caller, attributes, request: web.Request) -> None:
            held.append(request)
            await release.wait()

    settings = Settings(prometheus_url=prometheus.url, mesh="linkerd", local=True)
    server = Server(settings, packs.load("linkerd"), PrometheusClient(prometheus.url), gate=Holding())
    runner = web.AppRunner(server.application())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = site._server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {P}/namespaces/shop/deployments HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await _until(lambda: held)
        writer.transport.abort()
        await _until(lambda: held[0].transport is None or held[0].transport.is_closing())
        release.set()
        await _until(lambda: any("client disconnected" in r.getMessage() for r in caplog.records))
    finally:
        await runner.cleanup()
    [record] = [r for r in caplog.records if "client disconnected" in r.getMessage()]
    assert record.levelno == logging.DEBUG and record.name == "metrics_api"
    assert record.getMessage() == f"client disconnected before the answer to GET {P}/namespaces/shop/deployments was written"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def _until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)
