"""One conformance suite for every mesh: the same simulated traffic, rendered as each mesh's own series
(its buckets, units and label spelling), must give the same TrafficMetrics through the server, on a
real Prometheus and on a real VictoriaMetrics, in --local mode and in cluster mode (the server on the
Kubernetes stand-in, which holds the scenario's workloads, pods, Services and EndpointSlices, and a user
its SubjectAccessReviews allow). Expected values come from tests/truth.py, which only knows the
scenario; what a mesh cannot observe is stated in SIGHT / CLUSTER_SIGHT, never skipped silently.
"""
from __future__ import annotations

import os
import ssl

import pytest

from meshsim import RENDERERS
from meshsim.victoria import VICTORIA_METRICS, VictoriaMetricsServer
from metrics_api.apis.smi import API_PREFIX
from tests.support import truth
from tests.support.expectations import (
    BOTH,
    MESHES,
    MODES,
    PLURALS,
    WINDOW_TEXT,
    WINDOWS,
    WORKLOADS,
    as_served,
    assert_matches,
    expected_peer,
    observable,
    path_of,
    peer_granularity,
    quantity,
    reported_kind,
    resource_truth,
    served,
)
from tests.support.kube_stub import KubeStub, objects_of
from tests.support.serverproc import Reply, ServerProcess, server_pool
from tests.support.truth import Ref

P = API_PREFIX
ENGINES = ("prometheus", "victoriametrics")
ZEROS = ("p99_response_latency", "p90_response_latency", "p50_response_latency", "success_count", "failure_count",
         "request_rate", "success_rate")
READER = "conformance-reader"   # the one user the stand-in's SubjectAccessReviews allow


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
    from tests.support.serverproc import ServerProcess, server_pool

    certs = tmp_path_factory.mktemp("vm-server")
    with server_pool(lambda mesh: ServerProcess(victoriametrics.url, "--mesh", mesh, cert_dir=certs)) as start:
        yield start


@pytest.fixture(scope="session")
def kube(scenario, tmp_path_factory):
    """The kube-apiserver stand-in with the scenario's objects; it allows READER only."""
    stub = KubeStub(tmp_path_factory.mktemp("conformance-kube"), objects_of(scenario)).start()
    stub.policy = lambda spec: spec.get("user") == READER
    try:
        yield stub
    finally:
        stub.stop()


class AsReader:
    """A cluster-mode server, asked by READER (a client certificate of the stand-in's client CA)."""

    def __init__(self, server: ServerProcess, kube: KubeStub) -> None:
        self.server = server
        self.tls = ssl.create_default_context()
        self.tls.check_hostname = False
        self.tls.verify_mode = ssl.CERT_NONE
        self.tls.load_cert_chain(*kube.client_ca.issue(READER))

    def get(self, path: str) -> Reply:
        return self.server.get(path, tls=self.tls)

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="session")
def cluster_api_server(kube, tmp_path_factory):
    """`cluster_api_server(url, mesh)` → a cluster-mode server on the store at `url`, one per (url, mesh)."""
    certs = tmp_path_factory.mktemp("cluster-server")

    def make(url: str, mesh: str) -> AsReader:
        server = ServerProcess(url, "--mesh", mesh, "--kubeconfig", str(kube.kubeconfig()),
                               "--bind-address", "127.0.0.1", cert_dir=certs, local=False)
        return AsReader(server, kube)

    with server_pool(make) as start:
        yield start


@pytest.fixture(scope="module", params=[(e, m, mode) for mode in MODES for e in ENGINES for m in MESHES],
                ids=lambda p: f"{p[2]}-{p[0]}-{p[1]}")
def case(request):
    return request.param


@pytest.fixture(scope="module")
def mesh(case):
    return case[1]


@pytest.fixture(scope="module")
def sight(case):
    return MODES[case[2]][case[1]]


@pytest.fixture(scope="module")
def server(case, request):
    engine, mesh, mode = case
    store = request.getfixturevalue("prometheus" if engine == "prometheus" else "victoriametrics")
    if mode == "cluster":
        return request.getfixturevalue("cluster_api_server")(store.url, mesh)
    return request.getfixturevalue("api_server" if engine == "prometheus" else "vm_api_server")(mesh)


def assert_unseen(reply: Reply, sight, context: str) -> None:
    """An object the mesh never saw: unknown (404) in --local mode, zeros when Kubernetes has it."""
    if not sight.cluster:
        assert reply.status == 404, f"{context} is invisible: {reply.body[:300]}"
        return
    assert reply.status == 200, f"{context} is in the cluster: {reply.body[:300]}"
    assert {m["name"]: m["value"] for m in reply.json()["metrics"]} == dict.fromkeys(ZEROS, "0"), context


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
            reply = server.get(f"{path_of(as_served(sight, ref))}?t={window}")
            if not observable(scenario, sight, ref):
                assert_unseen(reply, sight, f"{mesh} {ref}")
                continue
            assert reply.status == 200, f"{mesh} {ref}: {reply.body[:300]}"
            item = reply.json()
            assert item["kind"] == "TrafficMetrics" and item["window"] == WINDOW_TEXT[window]
            assert item["resource"]["name"] == ref.name and item["resource"]["kind"] == reported_kind(sight, ref.kind)
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
                               if observable(scenario, sight, r) and reported_kind(sight, r.kind) == kind),
                              key=lambda r: (r.namespace or "", r.name))
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
            reply = server.get(f"{path_of(as_served(sight, ref))}/edges?t=1m")
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
        assert_unseen(reply, sight, f"{mesh} {ref}")
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


def test_each_workload_is_served_under_one_kind(server, scenario, mesh, sight):
    """Its own kind, or for a kind-blind mesh in --local mode the kind its pod names show; never two."""
    kinds = [k for k in WORKLOADS if k in sight.kinds]
    if not kinds:
        assert server.get(f"{P}/namespaces/shop/deployments/web").status == 404, f"{mesh} serves no workload kind"
        return
    checked = 0
    for ref in (r for k in WORKLOADS for r in truth.resources(scenario, k)
                if sight.cluster or observable(scenario, sight, r)):
        for kind in kinds:
            reply = server.get(path_of(Ref(kind, ref.namespace, ref.name)))
            expected = 200 if kind == reported_kind(sight, ref.kind) else 404
            assert reply.status == expected, f"{mesh} {kind} {ref.namespace}/{ref.name}: {reply.body[:200]}"
            checked += reply.status == 200
    assert checked >= 8
