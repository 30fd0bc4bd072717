"""`kubectl traffic` without a server: reading items, the server's cells, tables, sorting, the graph and its
renderings, and the dashboard backend's guards."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from meshsim.process import free_port
from metrics_api.apis.smi.render import render_json
from metrics_api.apis.smi.table import render_table
from metrics_api.client import graph
from metrics_api.client.api import ClientError, Scope
from metrics_api.client.dashboard import Dashboard
from metrics_api.client.main import resolve_plural
from metrics_api.client.samples import Sample, Traffic, parse_item, parse_table
from metrics_api.client.tables import SortBy, edges_table, render, sort_samples, top_table
from metrics_api.core.kinds import BY_PLURAL, TRAFFICMETRICS, WORKLOAD_KINDS
from metrics_api.core.model import Answer, Direction, Measure, Ref, Row, Target

WEB, API, DB = Ref("shop", "web", "Deployment"), Ref("shop", "api", "Deployment"), Ref("shop", "db", "StatefulSet")
GATEWAY = Ref("pay", "gateway", "Deployment")
ROWS = [
    Row(API, Direction.RESOURCE, None, 630.4, 29.9, {Measure.P50: 2.4999, Measure.P90: 25.0, Measure.P99: 29.5}),
    Row(DB, Direction.RESOURCE, None, 390.0, 120.0, {Measure.P50: 17.2, Measure.P90: 838.0, Measure.P99: 50000.0}),
    Row(Ref("shop", "idle", "Deployment"), Direction.RESOURCE, None),
    Row(WEB, Direction.RESOURCE, None, 1368.0, 12.0, {Measure.P50: 45.0, Measure.P90: 249.999, Measure.P99: 295.0}),
]


def answer(rows: list[Row], edges: bool = False) -> Answer:
    return Answer(Target(TRAFFICMETRICS, WORKLOAD_KINDS, "shop", "api" if edges else None, edges, 30.0), rows, 1.7e9,
                  "/p", root=API if edges else None)


def samples(rows: list[Row], edges: bool = False) -> list[Sample]:
    """What the client reads from the server's Table (includeObject=Object), as it asks for."""
    return parse_table(orjson.loads(render_table(answer(rows, edges), "v1", "Object")))


def server_cells(rows: list[Row]) -> list[list[str]]:
    table = orjson.loads(render_table(answer(rows), "v1", "None"))
    return [row["cells"][2:7] for row in table["rows"]]   # NAME, KIND, then SUCCESS … LATENCY_P99


def test_cells_are_the_servers_table_cells():
    client = [row[2:] for row in top_table(samples(ROWS), False, SortBy.NAME)[1:]]
    assert client == server_cells(ROWS)
    assert client[0][0] == "95.47%"                  # from the exact counts 630.4 and 29.9
    assert client[2] == ["-", "0", "-", "-", "-"]   # idle: no success rate, no latencies


def test_plain_json_is_formatted_with_the_servers_formatters():
    """A server without Tables (the Go reference server): the same cells wherever the JSON's whole-request
    counts are the measured ones."""
    whole = [Row(r.resource, r.direction, r.peer, round(r.success), round(r.failure), r.latency_ms) for r in ROWS]
    items = orjson.loads(render_json(answer(whole)))["items"]
    client = [row[2:] for row in top_table([parse_item(i) for i in items], False, SortBy.NAME)[1:]]
    assert client == server_cells(whole)


def test_an_idle_item_has_no_success_rate_and_no_latencies():
    [idle] = samples([ROWS[2]])
    assert (idle.traffic.success_rate, idle.traffic.p50, idle.traffic.rps) == (None, None, 0.0)
    assert idle.traffic.numbers()["success_count"] == 0


def test_tables_are_aligned_like_kubectl():
    text = render(top_table(samples(ROWS), True, SortBy.NAME), "none")
    lines = text.splitlines()
    assert lines[0] == "NAMESPACE   NAME      KIND          SUCCESS   RPS       LATENCY_P50   LATENCY_P90   LATENCY_P99"
    assert lines[1] == "shop        api       Deployment    95.47%    22        2.5ms         25ms          30ms"
    assert render([["NAME"]], "No resources found in shop namespace.") == "No resources found in shop namespace."


def test_sort_worst_first_and_idle_last():
    rows = samples(ROWS)
    assert [s.resource.name for s in sort_samples(rows, SortBy.SUCCESS)] == ["db", "api", "web", "idle"]
    assert [s.resource.name for s in sort_samples(rows, SortBy.RPS)] == ["web", "api", "db", "idle"]
    assert [s.resource.name for s in sort_samples(rows, SortBy.P99)] == ["db", "web", "api", "idle"]
    assert [s.resource.name for s in sort_samples(rows, SortBy.NAME)] == ["api", "db", "idle", "web"]


def test_edges_table_names_peers_by_singular_kind():
    edges = [Row(API, Direction.TO, DB, 300, 100, {Measure.P99: 900.0}),
             Row(API, Direction.FROM, WEB, 570, 30, {Measure.P99: 30.0})]
    table = edges_table(samples(edges, edges=True))
    assert [row[:3] for row in table[1:]] == [["from", "deployment/web", "shop"], ["to", "statefulset/db", "shop"]]


@pytest.mark.parametrize("text, plural", [("deploy", "deployments"), ("Deployment", "deployments"), ("sts", "statefulsets"),
                                           ("pods.metrics.smi-spec.io", "pods"), ("ns", "namespaces")])
def test_plural_names_as_kubectl_accepts_them(text, plural):
    assert resolve_plural(text) == BY_PLURAL[plural]


def test_trafficmetrics_and_unknown_resource_types():
    assert resolve_plural("tm") == TRAFFICMETRICS
    with pytest.raises(ClientError, match='the server doesn\'t have a resource type "widgets"'):
        resolve_plural("widgets")


def traffic(success: float, failure: float) -> Traffic:
    return Traffic(success, failure, 30.0, 1.0, 2.0, 3.0)


def edge(resource: Ref, direction: Direction, peer: Ref, success: float, failure: float = 0) -> Sample:
    return Sample(resource, direction, peer, traffic(success, failure))


def small_graph() -> graph.Graph:
    resources = [Sample(r, Direction.FROM, None, traffic(60, 0)) for r in (API, WEB)]
    edges = [edge(WEB, Direction.TO, API, 300), edge(API, Direction.FROM, WEB, 999),   # the caller's numbers win
             edge(API, Direction.TO, GATEWAY, 90, 10), edge(API, Direction.FROM, Ref("ops", "agent", "DaemonSet"), 30)]
    return graph.build("30s", "shop", resources, edges)


def test_graph_links_come_from_the_callers_and_peers_outside_are_unmeasured_nodes():
    found = graph.build("30s", "shop", *([], []))
    assert (found.nodes, found.links) == ((), ())
    found = small_graph()
    assert [(l.source.name, l.target.name, l.traffic.success) for l in found.links] == \
        [("api", "gateway", 90), ("web", "api", 300), ("agent", "api", 30)][:0] or \
        sorted((l.source.name, l.target.name, l.traffic.success) for l in found.links) == \
        [("agent", "api", 30), ("api", "gateway", 90), ("web", "api", 300)]
    assert {n.resource.name: n.traffic is not None for n in found.nodes} == \
        {"api": True, "web": True, "gateway": False, "agent": False}


def test_json_dot_and_mermaid_renderings():
    found = small_graph()
    document = json.loads(graph.RENDERERS[graph.Format.JSON](found))
    link = next(l for l in document["links"] if l["target"] == "Deployment/pay/gateway")
    assert (link["band"], link["cells"]["success"], link["success_count"]) == ("bad", "90.00%", 90)
    dot = graph.to_dot(found)
    assert '"Deployment/shop/web" -> "Deployment/shop/api" [label="100.00% 10 rps"' in dot
    assert 'style="rounded,dashed"' in dot   # peers outside the scope
    mermaid = graph.to_mermaid(found).splitlines()
    assert mermaid[0] == "graph LR" and any('-->|"90.00% 3.33 rps"|' in line for line in mermaid)


def test_text_rendering_lists_calls_under_each_node():
    text = graph.to_text(small_graph()).splitlines()
    assert text[1].startswith("shop/api ") and text[2].startswith("  ──▶ pay/gateway ")
    assert text[3].startswith("  ◀── ops/agent ")
    assert text[4].startswith("shop/web ") and text[5].startswith("  ──▶ shop/api ")


class FakeApi:
    server = "https://127.0.0.1:1"

    def __init__(self) -> None:
        self.windows: list[str] = []

    async def list(self, kind, scope, window, selector=None):
        self.windows.append(window)
        return [Sample(API, Direction.FROM, None, traffic(60, 0))]

    async def edges_of_all(self, resources, window):
        return []


@asynccontextmanager
async def dashboard_client() -> AsyncIterator[tuple[TestClient, FakeApi]]:
    api = FakeApi()
    dashboard = Dashboard(api, Scope("shop"), "30s")   # type: ignore[arg-type]
    port = free_port()
    client = TestClient(TestServer(dashboard.application(port), host="127.0.0.1", port=port))
    await client.start_server()
    try:
        yield client, api
    finally:
        await client.close()


async def test_dashboard_serves_its_assets_config_and_graph():
    async with dashboard_client() as (client, api):
        page = await client.get("/")
        assert page.status == 200 and "dashboard.js" in await page.text()
        assert page.headers["Content-Security-Policy"] == "default-src 'self'"
        for asset, kind in (("dashboard.js", "text/javascript"), ("dashboard.css", "text/css"), ("icon.svg", "image/svg+xml")):
            reply = await client.get(f"/static/{asset}")
            assert (reply.status, reply.content_type) == (200, kind), asset
        config = await (await client.get("/api/config")).json()
        assert (config["namespace"], config["window"], config["refreshSeconds"]) == ("shop", "30s", 5)
        found = await (await client.get("/api/graph?t=1m")).json()
        assert [n["id"] for n in found["nodes"]] == ["Deployment/shop/api"] and api.windows == ["1m"]


async def test_dashboard_refuses_other_hosts_unknown_files_and_windows():
    async with dashboard_client() as (client, _):
        assert (await client.get("/api/config", headers={"Host": "attacker.example:80"})).status == 403
        for path in ("/static/..%2f..%2fapi.py", "/static/api.py", "/static/missing.js", "/static/..%2fapi.py"):
            assert (await client.get(path)).status == 404, path
        reply = await client.get("/api/graph?t=7m")
        assert reply.status == 400 and "window must be one of" in (await reply.json())["error"]
