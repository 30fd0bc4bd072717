"""Ground truth: what the server answers for simulated Linkerd and Istio traffic in a real Prometheus
equals what the scenario says (tests/truth.py, computed without the server's code)."""
from __future__ import annotations

import pytest

import truth
from metrics_api import API_PREFIX
from truth import Ref

P = API_PREFIX
MESHES = ("linkerd", "istio")
WINDOWS = {"30s": 30, "1m": 60, "5m": 300}
PLURALS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets", "Job": "jobs",
           "Pod": "pods", "Namespace": "namespaces"}
# Kinds each mesh's series can name. Istio labels workloads without their kind: with no Kubernetes
# access a peer's kind is the pack's documented default, Deployment.
KIND_BLIND = {"istio"}


@pytest.fixture(scope="module", params=MESHES)
def mesh(request):
    return request.param


@pytest.fixture(scope="module")
def server(api_server, mesh):
    return api_server(mesh)


def metrics_by_name(item) -> dict[str, str]:
    return {m["name"]: m["value"] for m in item["metrics"]}


def quantity(text: str) -> float:
    suffix = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9}
    return float(text[:-1]) * suffix[text[-1]] if text[-1] in suffix else float(text)


def assert_matches(item, expected: truth.Metrics, context: str) -> None:
    got = {name: quantity(value) for name, value in metrics_by_name(item).items()}
    wanted = {
        "success_count": expected.success_count, "failure_count": expected.failure_count,
        "request_rate": expected.request_rate, "success_rate": expected.success_rate,
        "p50_response_latency": expected.p50, "p90_response_latency": expected.p90,
        "p99_response_latency": expected.p99,
    }
    for name, value in wanted.items():
        # 1% for counts and rates (Prometheus extrapolation, integer rounding); quantities truncate to 1/1000.
        assert got[name] == pytest.approx(value, rel=0.01, abs=1.0 if name.endswith("count") else 0.002), (
            f"{context}: {name} = {got[name]}, truth {value}")


def observable(scenario, mesh: str, ref: Ref) -> bool:
    """Does `mesh` have series for `ref`? Servers see their callers (the idle deployment has series that
    never increase); clients are seen by their outbound series, except Istio pods (no peer pod label)."""
    if any(truth.contains(ref, flow.destination) for flow in scenario.flows):
        return True
    if mesh == "istio" and ref.kind == "Pod":
        return False
    return any(flow.source is not None and truth.contains(ref, flow.source) for flow in scenario.flows)


def expected_kind(mesh: str, ref: Ref) -> str:
    return "Deployment" if mesh in KIND_BLIND and ref.kind in truth.WORKLOAD_KINDS else ref.kind


def path_of(ref: Ref) -> str:
    if ref.kind == "Namespace":
        return f"{P}/namespaces/{ref.name}"
    return f"{P}/namespaces/{ref.namespace}/{PLURALS[ref.kind]}/{ref.name}"


@pytest.mark.parametrize("window", WINDOWS)
def test_get_every_resource_of_every_kind(server, scenario, mesh, window):
    checked = 0
    for kind in PLURALS:
        for ref in truth.resources(scenario, kind):
            reply = server.get(f"{path_of(ref)}?t={window}")
            if not observable(scenario, mesh, ref):
                assert reply.status == 404, f"{ref}: {reply.body[:300]}"
                continue
            assert reply.status == 200, f"{ref}: {reply.body[:300]}"
            item = reply.json()
            assert item["kind"] == "TrafficMetrics" and item["window"] == {"30s": "30s", "1m": "1m0s", "5m": "5m0s"}[window]
            assert item["resource"]["name"] == ref.name and item["resource"]["kind"] == ref.kind
            assert item["edge"] == {"direction": "from", "resource": None}
            assert_matches(item, truth.resource_metrics(scenario, mesh, ref, WINDOWS[window]), f"{mesh} {ref}")
            checked += 1
    assert checked >= 20


@pytest.mark.parametrize("window", ["1m"])
def test_lists_in_a_namespace_and_across_namespaces(server, scenario, mesh, window):
    for kind, plural in PLURALS.items():
        namespaces = [None] if kind == "Namespace" else [None, "shop", "ops", "pay"]
        for namespace in namespaces:
            path = f"{P}/{plural}" if namespace is None else f"{P}/namespaces/{namespace}/{plural}"
            listing = server.get(f"{path}?t={window}").json()
            assert listing["kind"] == "TrafficMetricsList" and isinstance(listing["items"], list)
            kinds = [kind]
            if mesh in KIND_BLIND and kind in truth.WORKLOAD_KINDS:
                kinds = truth.WORKLOAD_KINDS   # without Kubernetes, every workload answers to each kind
            expected = sorted((r for k in kinds for r in truth.resources(scenario, k, namespace)
                               if observable(scenario, mesh, r)), key=lambda r: (r.namespace or "", r.name))
            assert {i["resource"]["kind"] for i in listing["items"]} <= {kind}
            got = [(i["resource"].get("namespace", ""), i["resource"]["name"]) for i in listing["items"]]
            assert got == sorted(got), f"{path} not sorted by namespace, name"
            assert got == [(r.namespace or "", r.name) for r in expected], path
            for item, ref in zip(listing["items"], expected):
                assert_matches(item, truth.resource_metrics(scenario, mesh, ref, WINDOWS[window]), f"{mesh} list {ref}")


def test_edges_of_every_workload_pod_and_namespace(server, scenario, mesh):
    checked = 0
    for kind in PLURALS:
        if mesh == "istio" and kind == "Pod":
            continue   # Istio has no peer pod label: pods/edges is not served (asserted elsewhere)
        for ref in truth.resources(scenario, kind):
            if not observable(scenario, mesh, ref):
                continue
            reply = server.get(f"{path_of(ref)}/edges?t=1m")
            assert reply.status == 200, f"{ref}: {reply.body[:300]}"
            listing = reply.json()
            assert listing["resource"]["name"] == ref.name
            expected = truth.edges(scenario, mesh, ref, 60)
            got = {(i["edge"]["direction"], i["edge"]["resource"]["kind"], i["edge"]["resource"].get("namespace"),
                    i["edge"]["resource"]["name"]): i for i in listing["items"]}
            wanted = {(e.direction, expected_kind(mesh, e.peer), e.peer.namespace, e.peer.name): e for e in expected}
            assert set(got) == set(wanted), f"{mesh} {ref} edges"
            for key, edge in wanted.items():
                item = got[key]
                assert item["resource"]["name"] == ref.name and item["metadata"]["selfLink"].endswith("/edges")
                assert_matches(item, edge.metrics, f"{mesh} {ref} {key}")
                checked += 1
    assert checked >= 15


def test_cross_kind_cross_namespace_and_bidirectional_edges(server, mesh):
    items = server.get(f"{P}/namespaces/shop/deployments/api/edges").json()["items"]
    peers = {(i["edge"]["direction"], i["edge"]["resource"]["namespace"], i["edge"]["resource"]["name"],
              i["edge"]["resource"]["kind"]) for i in items}
    db_kind = "Deployment" if mesh in KIND_BLIND else "StatefulSet"
    assert ("to", "shop", "db", db_kind) in peers                 # a Deployment calling a StatefulSet
    assert ("to", "pay", "gateway", "Deployment") in peers        # another namespace
    assert ("to", "shop", "web", "Deployment") in peers and ("from", "shop", "web", "Deployment") in peers


def test_a_dotted_name_never_matches_a_lookalike(server, scenario, mesh):
    dotted = server.get(f"{P}/namespaces/ops/deployments/a.b").json()
    assert dotted["resource"]["name"] == "a.b"
    assert_matches(dotted, truth.resource_metrics(scenario, mesh, Ref("Deployment", "ops", "a.b"), 30), "a.b")
    lookalike = truth.resource_metrics(scenario, mesh, Ref("Deployment", "ops", "axb"), 30)
    assert quantity(metrics_by_name(dotted)["request_rate"]) != pytest.approx(lookalike.request_rate, rel=0.01)


def test_idle_resource_has_zero_counts_and_zero_latency(server, mesh):
    values = metrics_by_name(server.get(f"{P}/namespaces/shop/deployments/idle").json())
    assert values == {"p99_response_latency": "0", "p90_response_latency": "0", "p50_response_latency": "0",
                      "success_count": "0", "failure_count": "0", "request_rate": "0", "success_rate": "0"}


def test_kind_blind_mesh_answers_any_workload_kind_by_name(api_server):
    server = api_server("istio")
    item = server.get(f"{P}/namespaces/shop/statefulsets/db").json()
    assert item["resource"] == {"kind": "StatefulSet", "namespace": "shop", "name": "db"}
