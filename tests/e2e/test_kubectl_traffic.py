"""`kubectl traffic` through the real kubectl (the plugin found on PATH) against the server on the session's
real Prometheus: what it prints equals the ground truth of tests/support/truth.py; errors are one line."""
from __future__ import annotations

import json
import re
import signal
import time

import pytest

from meshsim.demo import write_kubeconfig
from meshsim.process import free_port
from tests.e2e.test_kube import cluster_server, stub  # noqa: F401 (fixtures: the server in cluster mode)
from tests.e2e.test_kubectl import assert_row, milliseconds, percent, workloads
from tests.support import truth
from tests.support.plugin import KUBECTL, Plugin, install_script, kubeconfig_for
from tests.support.truth import Ref

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH: install kubectl to run the plugin suite")

MESH = "linkerd"
WINDOW = 30
TOP = ["NAME", "KIND", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P90", "LATENCY_P99"]
EDGES = ["DIRECTION", "PEER", "PEER_NAMESPACE", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P90", "LATENCY_P99"]


@pytest.fixture(scope="module")
def bin_dir(tmp_path_factory):
    return install_script(tmp_path_factory.mktemp("plugin-bin"))


@pytest.fixture(scope="module")
def plugin(api_server, bin_dir, tmp_path_factory) -> Plugin:
    """The plugin with KUBECONFIG = the demo's kubeconfig for a --local server."""
    server = api_server(MESH)
    return Plugin(bin_dir, write_kubeconfig(tmp_path_factory.mktemp("kubeconfig") / "config", server.port))


def ident(ref: Ref) -> str:
    return f"{ref.kind}/{ref.namespace or ''}/{ref.name}"


def expected_links(scenario, namespace: str | None, window: int = WINDOW) -> dict[tuple[str, str], truth.Metrics]:
    """The graph's links: every workload's `to` edges, plus `from` edges whose caller is outside the scope."""
    inside = workloads(scenario, MESH, namespace)
    links: dict[tuple[str, str], truth.Metrics] = {}
    for ref in inside:
        for edge in truth.edges(scenario, MESH, ref, window):
            if edge.direction == "to":
                links[(ident(ref), ident(edge.peer))] = edge.metrics
    for ref in inside:
        for edge in truth.edges(scenario, MESH, ref, window):
            if edge.direction == "from" and edge.peer not in inside:
                links.setdefault((ident(edge.peer), ident(ref)), edge.metrics)
    return links


def assert_cells(cells: dict[str, str], expected: truth.Metrics, context: str) -> None:
    """SUCCESS, RPS and the latencies as printed, against the truth (assert_row of the kubectl suite)."""
    assert_row({"SUCCESS": cells["success"], "RPS": cells["rps"], "LATENCY_P50": cells["p50"],
                "LATENCY_P90": cells["p90"], "LATENCY_P99": cells["p99"]}, expected, context)


def assert_label(label: str, expected: truth.Metrics, context) -> None:
    """A dot or Mermaid link label: `95.00% 20 rps`."""
    success, rps, unit = label.split()
    assert unit == "rps"
    assert percent(success) == pytest.approx(expected.success_rate, rel=0.01, abs=0.0002), context
    assert float(rps) == pytest.approx(expected.request_rate, rel=0.01, abs=0.06), context


# -- top -------------------------------------------------------------------------------------------------

def test_top_in_a_namespace_equals_the_truth(plugin, scenario):
    header, rows = plugin.table("top", "-n", "shop")
    assert header == TOP
    expected = workloads(scenario, MESH, "shop")
    assert [(row["NAME"], row["KIND"]) for row in rows] == [(ref.name, ref.kind) for ref in expected]
    for row, ref in zip(rows, expected):
        assert_row(row, truth.resource_metrics(scenario, MESH, ref, WINDOW), str(ref))


def test_top_all_namespaces_adds_namespace(plugin, scenario):
    header, rows = plugin.table("top", "-A", "-t", "1m")
    assert header == ["NAMESPACE", *TOP]
    expected = workloads(scenario, MESH, None)
    assert [(row["NAMESPACE"], row["NAME"]) for row in rows] == [(ref.namespace, ref.name) for ref in expected]
    for row, ref in zip(rows, expected):
        assert_row(row, truth.resource_metrics(scenario, MESH, ref, 60), str(ref))


def test_top_of_a_plural(plugin, scenario):
    _, rows = plugin.table("top", "statefulsets", "-A")
    assert [(row["NAMESPACE"], row["NAME"], row["KIND"]) for row in rows] == \
        [(ref.namespace, ref.name, "StatefulSet") for ref in truth.resources(scenario, "StatefulSet")]
    header, rows = plugin.table("top", "ns")   # cluster-scoped: no NAMESPACE column, every namespace
    assert header == TOP and [row["NAME"] for row in rows] == list(scenario.namespaces())
    for row in rows:
        assert_row(row, truth.resource_metrics(scenario, MESH, Ref.ns(row["NAME"]), WINDOW), row["NAME"])


@pytest.mark.parametrize("key, column, worst_first", [
    ("success", "SUCCESS", percent), ("rps", "RPS", lambda cell: -float(cell)),
    ("p99", "LATENCY_P99", lambda cell: -milliseconds(cell)),
])
def test_sort_by_puts_the_worst_first_and_idle_last(plugin, key, column, worst_first):
    _, rows = plugin.table("top", "-A", "--sort-by", key)
    busy = [row for row in rows if row["SUCCESS"] != "-"]
    assert rows[:len(busy)] == busy, "rows without requests come last"
    values = [worst_first(row[column]) for row in busy]
    assert values == sorted(values) and len(set(values)) > 1


def test_edges_equal_the_truth(plugin, scenario):
    header, rows = plugin.table("edges", "deployments/api", "-n", "shop")
    assert header == EDGES
    expected = {(edge.direction, f"{edge.peer.kind.lower()}/{edge.peer.name}", edge.peer.namespace): edge
                for edge in truth.edges(scenario, MESH, Ref("Deployment", "shop", "api"), WINDOW)}
    got = {(row["DIRECTION"], row["PEER"], row["PEER_NAMESPACE"]): row for row in rows}
    assert set(got) == set(expected) and len(rows) == len(expected)
    for key, edge in expected.items():
        assert_row(got[key], edge.metrics, f"api {key}")


def test_the_context_namespace_and_flags_as_kubectl_reads_them(plugin, api_server, tmp_path, scenario):
    """--kubeconfig and --context over $KUBECONFIG; without -n, the context's namespace."""
    server = api_server(MESH)
    contexts = tmp_path / "contexts"
    kubeconfig_for(contexts, server.port, {"token": "ignored-in-local-mode"}, namespace="pay")
    broken = Plugin(plugin.bin_dir, tmp_path / "missing")   # $KUBECONFIG names a file that does not exist
    _, rows = broken.table("top", "--kubeconfig", str(contexts), "--context", "smi")
    assert [row["NAME"] for row in rows] == [ref.name for ref in workloads(scenario, MESH, "pay")]
    done = broken.run("top", "--kubeconfig", str(contexts), "--context", "nope", ok=False)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")


# -- topology --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("namespace", ["shop", None])
def test_topology_json_is_the_scenario_graph(plugin, scenario, namespace):
    scope = ["-n", namespace] if namespace else ["-A"]
    found = json.loads(plugin.run("topology", *scope, "-o", "json").stdout)
    expected = expected_links(scenario, namespace)
    links = {(link["source"], link["target"]): link for link in found["links"]}
    assert set(links) == set(expected)
    for key, metrics in expected.items():
        assert_cells(links[key]["cells"], metrics, str(key))
        assert links[key]["rps"] == pytest.approx(metrics.request_rate, rel=0.01)
        assert links[key]["success_count"] == pytest.approx(metrics.success_count, rel=0.01, abs=1)
    measured = {node["id"] for node in found["nodes"] if node["measured"]}
    assert measured == {ident(ref) for ref in workloads(scenario, MESH, namespace)}
    assert {node["id"] for node in found["nodes"]} == measured | {end for key in expected for end in key}


def test_topology_dot(plugin, scenario):
    text = plugin.run("topology", "-n", "shop", "-o", "dot").stdout
    assert text.startswith("digraph traffic {") and text.rstrip().endswith("}")
    links = {(a, b): label for a, b, label in re.findall(r'^  "([^"]+)" -> "([^"]+)" \[label="([^"]+)"', text, re.M)}
    expected = expected_links(scenario, "shop")
    assert set(links) == set(expected)
    for key, metrics in expected.items():
        assert_label(links[key], metrics, key)


def test_topology_mermaid(plugin, scenario):
    text = plugin.run("topology", "-n", "shop", "-o", "mermaid").stdout
    lines = text.splitlines()
    assert lines[0] == "graph LR"
    names = dict(re.findall(r'^  (n\d+)\["([^<"]+)<br/>', text, re.M))
    links = {(names[a], names[b]): label for a, label, b in re.findall(r'^  (n\d+) -->\|"([^"]+)"\| (n\d+)$', text, re.M)}
    expected = {(src.split("/", 1)[1], dst.split("/", 1)[1]): m for (src, dst), m in expected_links(scenario, "shop").items()}
    assert set(links) == set(expected)
    for key, metrics in expected.items():
        assert_label(links[key], metrics, key)


def test_topology_text_draws_each_node_with_its_calls(plugin, scenario):
    text = plugin.run("topology", "-n", "shop").stdout
    lines = text.splitlines()
    assert lines[0].split() == ["NODE", "KIND", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P90", "LATENCY_P99"]
    links, node = {}, None
    for line in lines[1:]:
        if not line.strip() or line.startswith("──▶ calls"):
            continue
        arrow = re.match(r"  (──▶|◀──) (\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$", line)
        if arrow is None:
            node = line.split()[0]
            continue
        direction, peer, kind, *cells = arrow.groups()
        key = (node, peer) if direction == "──▶" else (peer, node)
        links[key] = dict(zip(["success", "rps", "p50", "p90", "p99"], cells))
    expected = {(f"{src.split('/')[1]}/{src.split('/')[2]}", f"{dst.split('/')[1]}/{dst.split('/')[2]}"): m
                for (src, dst), m in expected_links(scenario, "shop").items()}
    assert set(links) == set(expected)
    for key, metrics in expected.items():
        assert_cells(links[key], metrics, str(key))


# -- watch -----------------------------------------------------------------------------------------------

def test_watch_refreshes_until_ctrl_c(plugin):
    process = plugin.popen("top", "-n", "shop", "-w", "--interval", "1")
    try:
        headers, deadline = 0, time.monotonic() + 30
        while headers < 2 and time.monotonic() < deadline:
            line = process.stdout.readline()
            headers += line.startswith("NAME ")
        assert headers == 2, "two refreshes within 30 s"
        process.send_signal(signal.SIGINT)   # kubectl execs the plugin: the signal reaches it
        assert process.wait(15) == 0
        assert process.stderr.read() == ""   # no traceback, no unclosed-session warning
    finally:
        process.kill()
        process.wait()


# -- errors: one line, exit 1 ----------------------------------------------------------------------------

def one_line_error(done) -> str:
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    return done.stderr.strip()


def test_not_found_and_bad_requests(plugin):
    assert one_line_error(plugin.run("edges", "deployments/nope", "-n", "shop", ok=False)) == \
        'Error from server (NotFound): deployments.metrics.smi-spec.io "nope" not found'
    assert one_line_error(plugin.run("top", "-n", "shop", "-t", "25h", ok=False)) == \
        "Error from server (BadRequest): invalid window t='25h': must be between 1s and 24h"
    assert one_line_error(plugin.run("top", "widgets", ok=False)) == \
        'error: the server doesn\'t have a resource type "widgets"'


def test_unreachable_server(plugin, tmp_path):
    port = free_port()   # nothing listens there
    unreachable = Plugin(plugin.bin_dir, write_kubeconfig(tmp_path / "config", port))
    message = one_line_error(unreachable.run("top", "-n", "shop", ok=False))
    assert message.startswith(f"error: Unable to connect to the server https://127.0.0.1:{port}: ")


@pytest.fixture
def cluster(stub, cluster_server, bin_dir, tmp_path):  # noqa: F811 (fixtures imported above)
    """`cluster(user)`: the plugin as `user` (a kubeconfig user entry) of a cluster-mode server."""
    server = cluster_server(MESH)
    yield lambda name, user: Plugin(bin_dir, kubeconfig_for(tmp_path / name, server.port, user))
    stub.policy = lambda spec: True


def test_rbac_denied_user_gets_forbidden(cluster, stub):  # noqa: F811
    stub.tokens["token-mallory"] = {"username": "mallory", "groups": ["team-x"]}
    stub.policy = lambda spec: spec["user"] != "mallory"
    message = one_line_error(cluster("mallory", {"token": "token-mallory"}).run("top", "-n", "shop", ok=False))
    assert message == ('Error from server (Forbidden): trafficmetrics.metrics.smi-spec.io is forbidden: User "mallory" '
                       'cannot list resource "trafficmetrics" in API group "metrics.smi-spec.io" in the namespace "shop"')


def test_unknown_token_is_unauthorized(cluster):
    message = one_line_error(cluster("nobody", {"token": "forged"}).run("top", "-n", "shop", ok=False))
    assert message == "error: You must be logged in to the server (Unauthorized)"


def test_allowed_users_by_token_and_client_certificate_with_a_label_selector(cluster, stub, scenario):  # noqa: F811
    stub.tokens["token-jane"] = {"username": "jane", "groups": []}
    cert, key = stub.client_ca.issue("alice", ("dev",))
    backend = sorted(w.name for w in scenario.workloads if w.namespace == "shop" and w.labels.get("tier") == "backend")
    for name, user in (("jane", {"token": "token-jane"}),
                       ("alice", {"client-certificate": str(cert), "client-key": str(key)})):
        stub.subject_access_reviews.clear()
        _, rows = cluster(name, user).table("top", "-n", "shop", "-l", "tier=backend")
        assert [row["NAME"] for row in rows] == backend, name
        assert stub.subject_access_reviews[0]["user"] == name
