"""One conformance suite for every mesh: the same simulated traffic, rendered as each mesh's own series
(its buckets, units and label spelling), must give the same TrafficMetrics through the server, on a
real Prometheus and on a real VictoriaMetrics. Expected values come from tests/truth.py, which only
knows the scenario; what a mesh cannot observe is stated in SIGHT below, never skipped silently.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest

import truth
from metrics_api import API_PREFIX
from metrics_api.sim import RENDERERS
from metrics_api.sim.victoria import VICTORIA_METRICS, VictoriaMetricsServer
from truth import Ref

P = API_PREFIX
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
PLURALS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets", "Job": "jobs",
           "ReplicaSet": "replicasets", "Pod": "pods", "Service": "services", "Namespace": "namespaces"}
WINDOWS = {"30s": 30, "1m": 60, "5m": 300}
WINDOW_TEXT = {"30s": "30s", "1m": "1m0s", "5m": "5m0s", "45s": "45s"}
BOTH = ("to", "from")


@dataclass(frozen=True)
class Kind:
    """What a mesh serves for one kind."""
    edges: tuple[str, ...] = BOTH        # edge directions served
    peers: dict[str, str] = field(default_factory=dict)   # direction → peer granularity if not the kind's own
    callers_only: bool = False           # measured from the callers' side: unmeshed callers are invisible


@dataclass(frozen=True)
class Sight:
    """What one mesh's series let the server see."""
    kinds: dict[str, Kind]
    kind_blind: bool = False   # workload labels carry no kind: a workload peer is reported as a Deployment


SERVICE_PEERS = {"to": "Service"}
# The table the suite asserts (and docs/meshes.md repeats). Kinds not listed are not served (404).
SIGHT: dict[str, Sight] = {
    "linkerd": Sight({
        **{k: Kind() for k in WORKLOADS}, "ReplicaSet": Kind(), "Pod": Kind(), "Namespace": Kind(),
        # Services exist only in the callers' outbound series (dst_service): meshed callers only.
        "Service": Kind(edges=("from",), peers={"from": "workload"}, callers_only=True),
    }),
    "istio": Sight({
        **{k: Kind() for k in WORKLOADS}, "Namespace": Kind(),
        "Pod": Kind(edges=()),   # telemetry v2 has no peer pod label
        "Service": Kind(edges=("from",), peers={"from": "workload"}),
    }, kind_blind=True),
    "consul": Sight({
        # Identity is the Consul service; workloads need the pods' owners from Kubernetes (not in --local).
        "Service": Kind(), "Namespace": Kind(),
        "Pod": Kind(edges=("to",), peers=SERVICE_PEERS),   # upstream clusters name Services, never pods
    }),
    "osm": Sight({   # only the calling sidecar records: unmeshed callers are invisible everywhere
        **{k: Kind(callers_only=True) for k in (*WORKLOADS, "ReplicaSet", "Pod", "Namespace")},
    }),
    "kuma": Sight({
        # Upstream clusters name the destination Service: `to` peers are Services, and a workload's
        # callers are only known per Service (services/<name>/edges), so workloads have no `from` edges.
        **{k: Kind(edges=("to",), peers=SERVICE_PEERS) for k in WORKLOADS},
        "Pod": Kind(edges=("to",), peers=SERVICE_PEERS),
        "Service": Kind(edges=("from",), peers={"from": "workload"}, callers_only=True),
        "Namespace": Kind(),
    }, kind_blind=True),
    "cilium": Sight({**{k: Kind() for k in (*WORKLOADS, "Pod", "Namespace")}}),
}
MESHES = tuple(SIGHT)
ENGINES = ("prometheus", "victoriametrics")


def test_every_rendered_mesh_has_a_stated_sight():
    assert set(MESHES) == set(RENDERERS)


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def victoriametrics(scenario, meshes, tmp_path_factory):
    """A running VictoriaMetricsServer with ``scenario`` imported for all meshes."""
    if not os.path.exists(VICTORIA_METRICS):
        pytest.skip(f"{VICTORIA_METRICS} is missing: install the Debian package 'victoria-metrics'")
    server = VictoriaMetricsServer(tmp_path_factory.mktemp("victoriametrics"))
    server.start()
    try:
        server.import_scenario(scenario, meshes)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def vm_api_server(victoriametrics, tmp_path_factory):
    """`vm_api_server(mesh)` → a ServerProcess on the shared VictoriaMetrics (one per mesh)."""
    from serverproc import ServerProcess, server_pool

    certs = tmp_path_factory.mktemp("vm-server")
    with server_pool(lambda mesh: ServerProcess(victoriametrics.url, "--mesh", mesh, cert_dir=certs)) as start:
        yield start


@pytest.fixture(scope="module", params=[(e, m) for e in ENGINES for m in MESHES], ids=lambda p: f"{p[0]}-{p[1]}")
def case(request):
    return request.param


@pytest.fixture(scope="module")
def mesh(case):
    return case[1]


@pytest.fixture(scope="module")
def sight(mesh):
    return SIGHT[mesh]


@pytest.fixture(scope="module")
def server(case, request):
    engine, mesh = case
    start = request.getfixturevalue("api_server" if engine == "prometheus" else "vm_api_server")
    return start(mesh)


# -- expectations from the table ------------------------------------------------------------------


def quantity(text: str) -> float:
    suffix = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9}
    return float(text[:-1]) * suffix[text[-1]] if text[-1] in suffix else float(text)


def assert_matches(item, expected: truth.Metrics, context: str) -> None:
    got = {m["name"]: quantity(m["value"]) for m in item["metrics"]}
    wanted = {
        "success_count": expected.success_count, "failure_count": expected.failure_count,
        "request_rate": expected.request_rate, "success_rate": expected.success_rate,
        "p50_response_latency": expected.p50, "p90_response_latency": expected.p90,
        "p99_response_latency": expected.p99,
    }
    for name, value in wanted.items():
        # Counts and rates within 1%; percentiles are the mesh's own bucket interpolation (truth uses the
        # same buckets), so they agree to float noise plus the quantity's 1/1000 truncation.
        assert got[name] == pytest.approx(value, rel=0.01, abs=1.0 if name.endswith("count") else 0.002), (
            f"{context}: {name} = {got[name]}, truth {value}")


def reported_kind(sight: Sight, kind: str) -> str:
    return "Deployment" if sight.kind_blind and kind in WORKLOADS else kind


def peer_granularity(sight: Sight, ref: Ref, direction: str) -> str:
    granularity = sight.kinds[ref.kind].peers.get(direction, ref.kind)
    return granularity


def expected_peer(sight: Sight, peer: Ref) -> tuple:
    return (reported_kind(sight, peer.kind), peer.namespace, peer.name)


def observable(scenario, sight: Sight, ref: Ref) -> bool:
    """Does the mesh have series naming `ref`? Its callers' (all, or meshed only) or, when it serves
    `to` edges, its own outbound series (a pure client is listed with zero inbound traffic)."""
    kind = sight.kinds[ref.kind]
    if truth.inbound_flows(scenario, ref, meshed_only=kind.callers_only):
        return True
    return "to" in kind.edges and bool(truth.outbound_flows(scenario, ref))


def resource_truth(scenario, mesh: str, sight: Sight, ref: Ref, window: float) -> truth.Metrics:
    return truth.resource_metrics(scenario, mesh, ref, window, meshed_only=sight.kinds[ref.kind].callers_only)


def path_of(ref: Ref) -> str:
    if ref.kind == "Namespace":
        return f"{P}/namespaces/{ref.name}"
    return f"{P}/namespaces/{ref.namespace}/{PLURALS[ref.kind]}/{ref.name}"


def served(sight: Sight) -> list[str]:
    return [k for k in PLURALS if k in sight.kinds]


# -- the suite ---------------------------------------------------------------------------------


def test_discovery_lists_exactly_the_stated_kinds_and_edges(server, sight):
    resources = {r["name"] for r in server.get(P).json()["resources"]}
    stated = {PLURALS[k] for k in sight.kinds} | {f"{PLURALS[k]}/edges" for k, s in sight.kinds.items() if s.edges}
    assert resources - {"trafficmetrics", "trafficmetrics/edges"} == stated
    for kind in set(PLURALS) - set(sight.kinds):
        assert server.get(f"{P}/{PLURALS[kind]}").status == 404, kind


@pytest.mark.parametrize("window", WINDOWS)
def test_get_every_resource_of_every_served_kind(server, scenario, mesh, sight, window):
    checked = 0
    for kind in served(sight):
        for ref in truth.resources(scenario, kind):
            reply = server.get(f"{path_of(ref)}?t={window}")
            if not observable(scenario, sight, ref):
                assert reply.status == 404, f"{mesh} {ref} is invisible to {mesh}: {reply.body[:300]}"
                continue
            assert reply.status == 200, f"{mesh} {ref}: {reply.body[:300]}"
            item = reply.json()
            assert item["kind"] == "TrafficMetrics" and item["window"] == WINDOW_TEXT[window]
            assert item["resource"]["name"] == ref.name and item["resource"]["kind"] == ref.kind
            assert_matches(item, resource_truth(scenario, mesh, sight, ref, WINDOWS[window]), f"{mesh} {ref}")
            checked += 1
    assert checked >= 15


def test_lists_in_a_namespace_and_across_namespaces(server, scenario, mesh, sight):
    for kind in served(sight):
        plural = PLURALS[kind]
        for namespace in [None] if kind == "Namespace" else [None, "shop", "ops", "pay"]:
            path = f"{P}/{plural}" if namespace is None else f"{P}/namespaces/{namespace}/{plural}"
            listing = server.get(f"{path}?t=1m").json()
            assert listing["kind"] == "TrafficMetricsList" and isinstance(listing["items"], list), path
            kinds = WORKLOADS if sight.kind_blind and kind in WORKLOADS else (kind,)
            expected = sorted((r for k in kinds for r in truth.resources(scenario, k, namespace)
                               if observable(scenario, sight, r)), key=lambda r: (r.namespace or "", r.name))
            assert {i["resource"]["kind"] for i in listing["items"]} <= {kind}
            got = [(i["resource"].get("namespace", ""), i["resource"]["name"]) for i in listing["items"]]
            assert got == [(r.namespace or "", r.name) for r in expected], f"{mesh} {path}"
            for item, ref in zip(listing["items"], expected):
                assert_matches(item, resource_truth(scenario, mesh, sight, ref, 60), f"{mesh} list {ref}")


def test_trafficmetrics_lists_every_workload_of_a_namespace(server, scenario, mesh, sight):
    reply = server.get(f"{P}/namespaces/shop/trafficmetrics?t=1m")
    if not any(k in sight.kinds for k in WORKLOADS):
        assert reply.status == 404, f"{mesh} serves no workload kind"
        return
    expected = [r for k in WORKLOADS for r in truth.resources(scenario, k, "shop") if observable(scenario, sight, r)]
    got = {(i["resource"]["kind"], i["resource"]["name"]) for i in reply.json()["items"]}
    assert got == {(reported_kind(sight, r.kind), r.name) for r in expected}


def test_edges_of_every_resource_of_every_served_kind(server, scenario, mesh, sight):
    checked = 0
    for kind in served(sight):
        directions = sight.kinds[kind].edges
        for ref in truth.resources(scenario, kind):
            if not observable(scenario, sight, ref):
                continue
            reply = server.get(f"{path_of(ref)}/edges?t=1m")
            if not directions:
                assert reply.status == 404, f"{mesh} serves no edges of {kind}"
                continue
            assert reply.status == 200, f"{mesh} {ref}: {reply.body[:300]}"
            listing = reply.json()
            assert listing["resource"]["name"] == ref.name
            peer_kinds = {d: peer_granularity(sight, ref, d) for d in BOTH}
            expected = [e for e in truth.edges(scenario, mesh, ref, 60, peer_kinds) if e.direction in directions]
            got = {(i["edge"]["direction"], i["edge"]["resource"]["kind"], i["edge"]["resource"].get("namespace"),
                    i["edge"]["resource"]["name"]): i for i in listing["items"]}
            wanted = {(e.direction, *expected_peer(sight, e.peer)): e for e in expected}
            assert set(got) == set(wanted), f"{mesh} {ref} edges"
            for key, edge in wanted.items():
                assert got[key]["metadata"]["selfLink"].endswith("/edges")
                assert_matches(got[key], edge.metrics, f"{mesh} {ref} {key}")
                checked += 1
    assert checked >= 10


def test_a_window_that_is_not_a_multiple_of_the_scrape_interval(server, scenario, mesh, sight):
    """45 s over 10 s samples: Prometheus' increase extrapolates, VictoriaMetrics' does not; the packs
    count with rate(...) * seconds, which both engines agree on (docs/meshes.md)."""
    ref = Ref.ns("shop")
    item = server.get(f"{path_of(ref)}?t=45s").json()
    assert item["window"] == "45s"
    assert_matches(item, resource_truth(scenario, mesh, sight, ref, 45), f"{mesh} {ref} 45s")


def test_idle_resource_has_zero_counts_and_zero_latency(server, scenario, mesh, sight):
    ref = Ref("Service", "shop", "idle") if "Deployment" not in sight.kinds else Ref("Deployment", "shop", "idle")
    reply = server.get(path_of(ref))
    if not observable(scenario, sight, ref):   # only an unmeshed, idle caller: nothing records it
        assert reply.status == 404
        return
    values = {m["name"]: m["value"] for m in reply.json()["metrics"]}
    assert set(values.values()) == {"0"}, values


def test_a_dotted_name_never_matches_a_lookalike(server, scenario, mesh, sight):
    kind = "Deployment" if "Deployment" in sight.kinds else "Pod"
    dotted = [r for r in truth.resources(scenario, kind, "ops") if "." in r.name][0]
    lookalike = Ref(kind, "ops", dotted.name.replace(".", "x")) if kind == "Deployment" else None
    item = server.get(path_of(dotted)).json()
    assert item["resource"]["name"] == dotted.name
    assert_matches(item, resource_truth(scenario, mesh, sight, dotted, 30), f"{mesh} {dotted}")
    if lookalike is not None:
        other = resource_truth(scenario, mesh, sight, lookalike, 30)
        rate = {m["name"]: quantity(m["value"]) for m in item["metrics"]}["request_rate"]
        assert rate != pytest.approx(other.request_rate, rel=0.01)


def test_cross_kind_cross_namespace_and_bidirectional_edges(server, mesh, sight):
    deployments = sight.kinds.get("Deployment")
    if deployments is None or "to" not in deployments.edges or deployments.peers.get("to"):
        pytest.skip(f"{mesh}: SIGHT says its deployments have no workload `to` peers")
    items = server.get(f"{P}/namespaces/shop/deployments/api/edges").json()["items"]
    peers = {(i["edge"]["direction"], i["edge"]["resource"]["namespace"], i["edge"]["resource"]["name"],
              i["edge"]["resource"]["kind"]) for i in items}
    assert ("to", "shop", "db", reported_kind(sight, "StatefulSet")) in peers   # a Deployment calling a StatefulSet
    assert ("to", "pay", "gateway", "Deployment") in peers                      # another namespace
    assert ("to", "shop", "web", "Deployment") in peers                         # A→B and B→A: two items
    if "from" in deployments.edges:
        assert ("from", "shop", "web", "Deployment") in peers


def test_a_kind_blind_mesh_answers_any_workload_kind_by_name(server, mesh, sight):
    if not sight.kind_blind:
        pytest.skip(f"{mesh}: its series name workload kinds")
    item = server.get(f"{P}/namespaces/shop/statefulsets/db").json()
    assert item["resource"] == {"kind": "StatefulSet", "namespace": "shop", "name": "db"}
