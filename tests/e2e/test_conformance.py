"""One conformance suite for every mesh variant: the same simulated traffic, rendered as each variant's
own series (its buckets, units and label spelling: Istio sidecars or ambient waypoints, Kuma's naming
modes, Hubble with or without kinds, ...), must give the same TrafficMetrics through the server and the
mesh's one pack, on a real Prometheus and on a real VictoriaMetrics: every variant in --local mode and
in cluster mode (the server on the Kubernetes stand-in, which holds the scenario's workloads, pods,
Services and EndpointSlices, and a user its SubjectAccessReviews allow).
Expected values come from tests/truth.py, which only knows the scenario; what a mesh cannot observe is
stated in SIGHT / CLUSTER_SIGHT (tests/support/expectations.py), never skipped silently.

Variants of one mesh never share a store (the pack reads all of them): the variants are grouped into
layers with at most one variant per mesh (meshsim.layers), one store per layer and engine; layer 0, the
default variants, is the session's shared Prometheus.
"""
from __future__ import annotations

import math
import os
import ssl
import time
from dataclasses import replace

import pytest

from meshsim import VARIANTS, layers
from meshsim.store import PrometheusServer, write_scenario
from meshsim.victoria import VICTORIA_METRICS, VictoriaMetricsServer
from metrics_api.apis.smi import API_PREFIX
from metrics_api.pipeline.window import LEARN_RANGE
from tests.support import truth
from tests.support.expectations import (
    CLUSTER_SIGHT,
    PLURALS,
    WINDOW_TEXT,
    WINDOWS,
    WORKLOADS,
    as_served,
    assert_matches,
    edges_truth,
    expected_peer,
    observable,
    path_of,
    reported_kind,
    resource_truth,
    served,
    sight_of,
)
from tests.support.kube_stub import KubeStub, objects_of
from tests.support.serverproc import KeptAlive, Reply, ServerProcess, server_pool
from tests.support.truth import Ref

P = API_PREFIX
ENGINES = ("prometheus", "victoriametrics")
ZEROS = ("p99_response_latency", "p90_response_latency", "p50_response_latency", "success_count", "failure_count",
         "request_rate")
READER = "conformance-reader"   # the one user the stand-in's SubjectAccessReviews allow


LAYERS = layers()
LAYER_OF = {name: i for i, group in enumerate(LAYERS) for name in group}
# The stores built here serve this module only, which is done with each within minutes of building it:
# they hold the samples from a minute more than the servers look back (the longest window; the last
# LEARN_RANGE, from which a server learns the scrape interval) before they were built to LAYER_AHEAD
# after, two fifths of the scenario's 80 minutes to render and backfill (the session's shared
# Prometheus holds them all).
LAYER_BEHIND, LAYER_AHEAD = int(max(LEARN_RANGE, *WINDOWS.values())) + 60, 20 * 60


def test_every_variant_has_a_stated_sight_and_one_store():
    assert {name: bool(sight_of(name).kinds) for name in VARIANTS} == {name: True for name in VARIANTS}
    assert {name: CLUSTER_SIGHT[name].cluster for name in VARIANTS} == {name: True for name in VARIANTS}
    assert sorted(LAYER_OF) == sorted(VARIANTS)
    for group in LAYERS:
        assert len({VARIANTS[name].mesh for name in group}) == len(group), group


# -- fixtures -----------------------------------------------------------------------------------


def recent(scenario):
    """The part of ``scenario`` a store built now needs (LAYER_BEHIND, LAYER_AHEAD), on its sample grid."""
    steps_gone = math.ceil((time.time() - LAYER_BEHIND - scenario.start) / scenario.step)
    start = min(scenario.end, scenario.start + scenario.step * max(0, steps_gone))
    return replace(scenario, start=start, end=min(scenario.end, start + LAYER_BEHIND + LAYER_AHEAD))


@pytest.fixture(scope="session")
def stores(request, scenario, tmp_path_factory):
    """`stores(engine, layer)` → a running store holding that layer's variants of ``scenario``, started on
    first use (layer 0 on Prometheus is the session's shared one; the others hold the `recent` samples)."""
    started: dict[tuple[str, int], object] = {}
    samples_end: dict[tuple[str, int], int] = {}

    def start(engine: str, layer: int):
        key = (engine, layer)
        if key in samples_end and time.time() >= samples_end[key]:
            pytest.fail(f"the {engine} store of layer {layer} holds samples until {samples_end[key]} only "
                        f"(LAYER_AHEAD = {LAYER_AHEAD}s after it was built)")
        if key in started:
            return started[key]
        part = recent(scenario)
        if engine == "prometheus" and layer == 0:
            server = request.getfixturevalue("prometheus")
            part = scenario
        elif engine == "prometheus":
            data = tmp_path_factory.mktemp(f"prometheus-layer{layer}")
            write_scenario(part, LAYERS[layer], data)
            server = PrometheusServer(data).start()
        else:
            if not os.path.exists(VICTORIA_METRICS):
                pytest.skip(f"{VICTORIA_METRICS} is missing: install the Debian package 'victoria-metrics'")
            server = VictoriaMetricsServer(tmp_path_factory.mktemp(f"victoriametrics-layer{layer}"))
            server.start()
            server.import_scenario(part, LAYERS[layer])
        started[key], samples_end[key] = server, part.end
        return server

    try:
        yield start
    finally:
        for (engine, layer), server in started.items():
            if (engine, layer) != ("prometheus", 0):
                server.stop()


@pytest.fixture(scope="session")
def variant_servers(request, stores, tmp_path_factory):
    """`variant_servers(engine, variant)` → a ServerProcess (`--local`, the variant's mesh pack) on the store of
    the variant's layer; on the shared Prometheus, the session's `api_server` pool."""
    certs = tmp_path_factory.mktemp("variant-servers")

    def make(engine: str, layer: int, mesh: str) -> ServerProcess:
        return ServerProcess(stores(engine, layer).url, "--mesh", mesh, cert_dir=certs)

    with server_pool(make) as start:
        def server(engine: str, variant: str) -> ServerProcess:
            mesh, layer = VARIANTS[variant].mesh, LAYER_OF[variant]
            if engine == "prometheus" and layer == 0:
                return request.getfixturevalue("api_server")(mesh)
            return start(engine, layer, mesh)
        yield server


@pytest.fixture(scope="session")
def kube(scenario, tmp_path_factory):
    """The kube-apiserver stand-in with the scenario's objects; it allows READER only."""
    stub = KubeStub(tmp_path_factory.mktemp("conformance-kube"), objects_of(scenario)).start()
    stub.policy = lambda spec: spec.get("user") == READER
    try:
        yield stub
    finally:
        stub.stop()


@pytest.fixture(scope="session")
def as_reader(kube) -> ssl.SSLContext:
    """A client TLS context presenting READER's certificate (of the stand-in's client CA)."""
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    tls.load_cert_chain(*kube.client_ca.issue(READER))
    return tls


@pytest.fixture(scope="session")
def cluster_api_server(kube, tmp_path_factory):
    """`cluster_api_server(url, mesh)` → a cluster-mode server on the store at `url`, one per (url, mesh)."""
    certs = tmp_path_factory.mktemp("cluster-server")

    def make(url: str, mesh: str) -> ServerProcess:
        return ServerProcess(url, "--mesh", mesh, "--kubeconfig", str(kube.kubeconfig()),
                             "--bind-address", "127.0.0.1", cert_dir=certs, local=False)

    with server_pool(make) as start:
        yield start


@pytest.fixture(scope="module", params=[(e, v, mode) for mode in ("local", "cluster") for e in ENGINES for v in VARIANTS],
                ids=lambda p: f"{p[2]}-{p[0]}-{p[1]}")
def case(request):
    return request.param


@pytest.fixture(scope="module")
def mesh(case):
    """The variant under test (tests/support/truth.py takes variant names: buckets and failure definition)."""
    return case[1]


@pytest.fixture(scope="module")
def sight(case):
    engine, variant, mode = case
    return CLUSTER_SIGHT[variant] if mode == "cluster" else sight_of(variant)


@pytest.fixture(scope="module")
def server(case, variant_servers, stores, request):
    """The case's server, asked over one kept-alive connection; in cluster mode by READER (a client
    certificate of the stand-in's client CA)."""
    engine, variant, mode = case
    store = stores(engine, LAYER_OF[variant])   # (and its samples still reach now)
    if mode == "local":
        client = KeptAlive(variant_servers(engine, variant).port)
    else:
        process = request.getfixturevalue("cluster_api_server")(store.url, VARIANTS[variant].mesh)
        client = KeptAlive(process.port, request.getfixturevalue("as_reader"))
    try:
        yield client
    finally:
        client.close()


def assert_unseen(reply: Reply, sight, context: str) -> None:
    """An object the mesh never saw: unknown (404) in --local mode, zeros when Kubernetes has it (and no
    success_rate: CONTRACT §3, 0/0 is not a rate)."""
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


@pytest.fixture(scope="module")
def windows(case) -> tuple[str, ...]:
    """The windows every resource is asked for: all of them in --local mode; in cluster mode 5m only. The
    window changes only the range of the store's queries, which the --local case of the same variant
    runs for every window through the same pipeline; what cluster mode adds (owners, kinds, zeros for
    objects the mesh never saw) does not depend on it. (Cluster lists and edges ask for 1m, the dotted
    name for the default 30s: every window is still asked in cluster mode.)"""
    return tuple(WINDOWS) if case[2] == "local" else ("5m",)


def test_get_every_resource_of_every_served_kind(server, scenario, mesh, sight, windows):
    checked = 0
    for kind, window in ((k, w) for w in windows for k in served(sight)):
        for ref in truth.resources(scenario, kind):
            if ref.name in sight.merged:   # SIGHT: one series for two objects, no numbers of its own
                continue
            reply = server.get(f"{path_of(as_served(sight, ref))}?t={window}")
            if not observable(scenario, sight, ref):
                assert_unseen(reply, sight, f"{mesh} {ref} {window}")
                continue
            assert reply.status == 200, f"{mesh} {ref} {window}: {reply.body[:300]}"
            item = reply.json()
            assert item["kind"] == "TrafficMetrics" and item["window"] == WINDOW_TEXT[window]
            assert item["resource"]["name"] == ref.name and item["resource"]["kind"] == reported_kind(sight, ref.kind, ref.namespace)
            assert_matches(item, resource_truth(scenario, mesh, sight, ref, WINDOWS[window]), f"{mesh} {ref} {window}")
            checked += 1
    assert checked >= 15 * len(windows)


def test_lists_in_a_namespace_and_across_namespaces(server, scenario, mesh, sight):
    for kind in served(sight):
        plural = PLURALS[kind]
        for namespace in [None] if kind == "Namespace" else [None, "shop", "ops", "pay"]:
            path = f"{P}/{plural}" if namespace is None else f"{P}/namespaces/{namespace}/{plural}"
            listing = server.get(f"{path}?t=1m").json()
            assert listing["kind"] == "TrafficMetricsList" and isinstance(listing["items"], list), path
            kinds = WORKLOADS if sight.kind_blind and kind in WORKLOADS else (kind,)
            expected = sorted((r for k in kinds for r in truth.resources(scenario, k, namespace)
                               if observable(scenario, sight, r) and reported_kind(sight, r.kind, r.namespace) == kind),
                              key=lambda r: (r.namespace or "", r.name))
            assert {i["resource"]["kind"] for i in listing["items"]} <= {kind}
            expected.sort(key=lambda r: (r.namespace or "", sight.spelled(r.name)))
            items = [i for i in listing["items"] if sight.compared(i["resource"]["name"])]
            got = [(i["resource"].get("namespace", ""), i["resource"]["name"]) for i in items]
            assert got == [(r.namespace or "", sight.spelled(r.name)) for r in expected], f"{mesh} {path}"
            for item, ref in zip(items, expected):
                assert_matches(item, resource_truth(scenario, mesh, sight, ref, 60), f"{mesh} list {ref}")


def test_trafficmetrics_lists_every_workload_of_a_namespace(server, scenario, mesh, sight):
    reply = server.get(f"{P}/namespaces/shop/trafficmetrics?t=1m")
    if not any(k in sight.kinds for k in WORKLOADS):
        assert reply.status == 404, f"{mesh} serves no workload kind"
        return
    expected = [r for k in WORKLOADS for r in truth.resources(scenario, k, "shop") if observable(scenario, sight, r)]
    got = {(i["resource"]["kind"], i["resource"]["name"]) for i in reply.json()["items"]
           if sight.compared(i["resource"]["name"])}
    assert got == {(reported_kind(sight, r.kind, r.namespace), sight.spelled(r.name)) for r in expected}


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
            expected = [e for e in edges_truth(scenario, mesh, sight, ref, 60) if e.direction in directions]
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
    """37 s over 10 s samples: Prometheus' increase extrapolates, VictoriaMetrics' does not; the packs
    count with rate(...) * seconds, which both engines agree on (docs/meshes.md). Counts over a multiple
    of the scrape interval are whole numbers in this scenario (whole requests per step); over 37 s some
    are not (pay's failures: 25.9), so a server that truncated counts instead of rounding them fails here."""
    fractions = []
    for ref in truth.resources(scenario, "Namespace"):
        expected = resource_truth(scenario, mesh, sight, ref, 37)
        item = server.get(f"{path_of(ref)}?t=37s").json()
        assert item["window"] == "37s"
        assert_matches(item, expected, f"{mesh} {ref} 37s")
        fractions += [expected.success_count % 1, expected.failure_count % 1]
    assert any(0.6 <= f <= 0.95 for f in fractions), f"no count where truncating and rounding differ: {fractions}"


def test_idle_resource_has_zero_counts_and_zero_latency(server, scenario, mesh, sight):
    ref = Ref("Service", "shop", "idle") if "Deployment" not in sight.kinds else Ref("Deployment", "shop", "idle")
    reply = server.get(path_of(ref))
    if not observable(scenario, sight, ref):   # only an unmeshed, idle caller: nothing records it
        assert_unseen(reply, sight, f"{mesh} {ref}")
        return
    values = {m["name"]: m["value"] for m in reply.json()["metrics"]}
    assert set(values.values()) == {"0"}, values


def test_a_dotted_name_never_matches_a_lookalike(server, scenario, mesh, sight):
    """`c.d` as a regex also matches `c-d`, which sorts first: a name matched with =~ instead of = would
    answer c-d's row (or both rows' sum) for a GET of c.d. (Meshes without Deployments: Consul names pods
    only, and no pod name has a lookalike here, so there only the dotted name itself is checked.)"""
    kind = "Deployment" if "Deployment" in sight.kinds else "Pod"
    dotted = [r for r in truth.resources(scenario, kind, "ops") if r.name.startswith("c.d")][0]
    if dotted.name in sight.merged:
        pytest.skip(f"{mesh}: SIGHT says it writes {dotted.name} like its lookalike (one series for both)")
    if kind == "Deployment":
        lookalike = Ref(kind, "ops", "c-d")
        assert lookalike in truth.resources(scenario, kind, "ops") and lookalike < dotted
        mine, other = (resource_truth(scenario, mesh, sight, r, 30) for r in (dotted, lookalike))
        assert (mine.request_rate, mine.failure_count) != (other.request_rate, other.failure_count)
    item = server.get(path_of(dotted)).json()
    assert item["resource"]["name"] == dotted.name
    assert_matches(item, resource_truth(scenario, mesh, sight, dotted, 30), f"{mesh} {dotted}")


def test_cross_kind_cross_namespace_and_bidirectional_edges(server, mesh, sight):
    deployments = sight.kinds.get("Deployment")
    if deployments is None or "to" not in deployments.edges or deployments.peers.get("to"):
        pytest.skip(f"{mesh}: SIGHT says its deployments have no workload `to` peers")
    items = server.get(f"{P}/namespaces/shop/deployments/api/edges").json()["items"]
    peers = {(i["edge"]["direction"], i["edge"]["resource"]["namespace"], i["edge"]["resource"]["name"],
              i["edge"]["resource"]["kind"]) for i in items}
    assert ("to", "shop", "db", reported_kind(sight, "StatefulSet", "shop")) in peers   # a Deployment calling a StatefulSet
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
            expected = 200 if kind == reported_kind(sight, ref.kind, ref.namespace) else 404
            assert reply.status == expected, f"{mesh} {kind} {ref.namespace}/{ref.name}: {reply.body[:200]}"
            checked += reply.status == 200
    assert checked >= 8
