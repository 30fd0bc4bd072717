"""metrics.smi-spec.io v1alpha2: traffic-split backends and `edge.side`, on every mesh whose pack observes
backends, on a real Prometheus and a real VictoriaMetrics. The split objects are meshsim.routes (served with
--routes-file); the expected numbers come from tests/support/truth.py (backend_items), which knows only the
scenario and those objects."""
from __future__ import annotations

import pytest

from meshsim.routes import objects, routes_yaml
from metrics_api.apis.smi import API_PREFIX
from tests.e2e.test_conformance import ENGINES, stores  # noqa: F401  (the session fixture)
from tests.support import truth
from tests.support.expectations import MESHES, assert_matches

P2 = "/apis/metrics.smi-spec.io/v1alpha2"
# Which meshes can name the backend Service a split routed a request to (each pack's `backends` comment
# cites the upstream source): OSM and Hubble name destination workloads only.
OBSERVES_BACKENDS = {"linkerd": True, "istio": True, "consul": True, "kuma": True, "osm": False, "cilium": False}
# Which proxy reports what, per mesh: (plural, view) → side, from each mesh's documentation of its series.
SIDES = {
    "linkerd": {("deployments", "resource"): "server", ("deployments", "to"): "client",
                ("deployments", "from"): "client", ("services", "resource"): "client"},
    "istio": {("deployments", "resource"): "server", ("deployments", "to"): "client",
              ("deployments", "from"): "server"},
    "consul": {("services", "resource"): "server", ("services", "to"): "client", ("services", "from"): "client"},
    "kuma": {("deployments", "resource"): "server", ("deployments", "to"): "client",
             ("services", "from"): "client"},
    "osm": {("deployments", "resource"): "client", ("deployments", "to"): "client",
            ("deployments", "from"): "client"},
    "cilium": {("deployments", "resource"): "server", ("deployments", "to"): "client",
               ("deployments", "from"): "server"},
}
PROBES = {"deployments": "web", "services": "web"}   # web calls and is called on every mesh


def test_every_mesh_states_whether_it_observes_backends_and_its_sides():
    assert set(OBSERVES_BACKENDS) == set(SIDES) == set(MESHES)


@pytest.fixture(scope="session")
def routes_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("routes") / "routes.yaml"
    path.write_text(routes_yaml())
    return path


@pytest.fixture(scope="session")
def split_servers(stores, routes_file, tmp_path_factory):  # noqa: F811
    """(engine, mesh) → a --local server with the routes file, on Prometheus or VictoriaMetrics."""
    from tests.support.serverproc import ServerProcess, server_pool

    certs = tmp_path_factory.mktemp("split-servers")

    def make(engine: str, mesh: str) -> ServerProcess:
        store = stores(engine, 0)   # the default variants of every mesh
        return ServerProcess(store.url, "--mesh", mesh, "--routes-file", str(routes_file), cert_dir=certs)

    with server_pool(make) as start:
        yield start


@pytest.fixture(scope="module", params=[(e, m) for e in ENGINES for m in MESHES], ids=lambda p: f"{p[0]}-{p[1]}")
def case(request):
    return request.param


@pytest.fixture(scope="module")
def server(case, split_servers):
    return split_servers(*case)


def _backends(listing: dict) -> list[tuple]:
    return [(i["resource"]["namespace"], i["resource"]["name"], i["backend"]["apex"], i["backend"]["name"],
             i["backend"]["weight"]) for i in listing["items"]]


def _assert_items(listing: dict, expected: list[truth.BackendItem], context: str) -> None:
    assert _backends(listing) == [(e.namespace, e.name, e.apex, e.backend, e.weight) for e in expected], context
    for item, want in zip(listing["items"], expected):
        assert item["apiVersion"] == "metrics.smi-spec.io/v1alpha2" and item["resource"]["kind"] == want.kind
        assert item["edge"] == {"direction": "from", "side": "client", "resource": None}, context
        assert item["metadata"]["selfLink"] == f"{P2}/namespaces/{want.namespace}/{listing_plural(want)}/{want.name}"
        assert_matches(item, want.metrics, f"{context} {want.namespace}/{want.name} → {want.backend}")


def listing_plural(item: truth.BackendItem) -> str:
    return {"TrafficSplit": "trafficsplits", "HTTPRoute": "httproutes"}[item.kind]


def test_discovery_lists_both_versions_v1alpha2_preferred(server):
    group = server.get("/apis/metrics.smi-spec.io").json()
    assert [v["version"] for v in group["versions"]] == ["v1alpha2", "v1alpha1"]
    assert group["preferredVersion"]["version"] == "v1alpha2"
    v1 = {r["name"] for r in server.get(API_PREFIX).json()["resources"]}
    v2 = {r["name"] for r in server.get(P2).json()["resources"]}
    assert v1.isdisjoint({"trafficsplits", "httproutes"})
    assert v2 - v1 == ({"trafficsplits", "httproutes"} if OBSERVES_BACKENDS[server_mesh(server)] else set())


def server_mesh(server) -> str:
    return server.mesh


@pytest.fixture(autouse=True)
def _name_the_mesh(server, case):
    server.mesh = case[1]


@pytest.mark.parametrize("kind, plural", [("TrafficSplit", "trafficsplits"), ("HTTPRoute", "httproutes")])
def test_every_backend_of_every_split_equals_the_truth(server, scenario, case, kind, plural):
    engine, mesh = case
    if not OBSERVES_BACKENDS[mesh]:
        reply = server.get(f"{P2}/namespaces/shop/{plural}")
        assert reply.status == 404 and reply.json()["kind"] == "Status"
        return
    expected = truth.backend_items(scenario, mesh, objects(), kind, 60)
    _assert_items(server.get(f"{P2}/{plural}?t=1m").json(), expected, f"{engine} {mesh} {plural}")
    shop = [e for e in expected if e.namespace == "shop"]
    _assert_items(server.get(f"{P2}/namespaces/shop/{plural}?t=1m").json(), shop, f"{engine} {mesh} shop {plural}")


def test_a_get_lists_the_backends_of_one_split_with_weights_of_every_version(server, scenario, case):
    engine, mesh = case
    if not OBSERVES_BACKENDS[mesh]:
        pytest.skip(f"{mesh} cannot observe backends (its pack says why)")
    for name, weights in (("checkout", [900, 100]), ("checkout-v1alpha2", [90, 10]),
                          ("checkout-v1alpha3", [90, 10]), ("checkout-v1alpha4", [90, 10])):
        listing = server.get(f"{P2}/namespaces/shop/trafficsplits/{name}?t=1m").json()
        assert listing["kind"] == "TrafficMetricsList"
        assert listing["resource"] == {"kind": "TrafficSplit", "namespace": "shop", "name": name}
        assert [i["backend"]["weight"] for i in listing["items"]] == weights, name
        expected = [e for e in truth.backend_items(scenario, mesh, objects(), "TrafficSplit", 60) if e.name == name]
        _assert_items(listing, expected, f"{engine} {mesh} {name}")
    # The canary fails more and is slower than stable: what a canary controller reads.
    stable, canary = server.get(f"{P2}/namespaces/shop/httproutes/checkout").json()["items"]
    rate = {i["backend"]["name"]: {m["name"]: m["value"] for m in i["metrics"]} for i in (stable, canary)}
    assert rate["checkout-canary"]["success_rate"] < rate["checkout-stable"]["success_rate"] or \
        len(rate["checkout-canary"]["success_rate"]) != len(rate["checkout-stable"]["success_rate"])


def test_a_backend_without_traffic_is_listed_with_zeros(server, case):
    if not OBSERVES_BACKENDS[case[1]]:
        pytest.skip("no backends observed")
    items = server.get(f"{P2}/namespaces/pay/httproutes/ledger").json()["items"]
    assert [(i["backend"]["name"], i["backend"]["weight"]) for i in items] == [("ledger", 100), ("ledger-v2", 0)]
    idle = {m["name"]: m["value"] for m in items[1]["metrics"]}
    assert {idle[n] for n in ("success_count", "failure_count", "request_rate", "p50_response_latency")} == {"0"}


def test_a_consumer_route_counts_only_its_namespace_and_granted_backends(server, scenario, case):
    """GAMMA (GEP-1426): a route in ops whose parent is shop/checkout applies to clients in ops only; its
    cross-namespace backendRef to checkout-stable is granted by a ReferenceGrant, checkout-canary is not."""
    engine, mesh = case
    if not OBSERVES_BACKENDS[mesh]:
        pytest.skip("no backends observed")
    listing = server.get(f"{P2}/namespaces/ops/httproutes/checkout?t=1m").json()
    expected = [e for e in truth.backend_items(scenario, mesh, objects(), "HTTPRoute", 60) if e.namespace == "ops"]
    assert expected[0].metrics.total > 0 and expected[1].metrics.total == 0
    producer = truth.backend_items(scenario, mesh, objects(), "HTTPRoute", 60, "shop")[0]
    assert producer.metrics.total > expected[0].metrics.total   # the producer route counts every client
    _assert_items(listing, expected, f"{engine} {mesh} consumer route")


def test_split_errors_are_statuses(server, case):
    if not OBSERVES_BACKENDS[case[1]]:
        pytest.skip("no backends observed")
    missing = server.get(f"{P2}/namespaces/shop/trafficsplits/nope")
    assert missing.status == 404 and missing.json()["reason"] == "NotFound"
    assert server.get(f"{P2}/namespaces/shop/trafficsplits/checkout/edges").status == 404
    assert server.get(f"{API_PREFIX}/namespaces/shop/trafficsplits").status == 404   # v1alpha2 only
    assert server.get(f"{P2}/namespaces/shop/trafficsplits?labelSelector=a%3Db").status == 400


def test_side_is_right_for_resources_and_edges(server, case):
    mesh = case[1]
    for (plural, view), side in SIDES[mesh].items():
        path = f"{P2}/namespaces/shop/{plural}/{PROBES[plural]}"
        if view == "resource":
            item = server.get(path).json()
            assert item["edge"]["side"] == side and item["backend"] is None, f"{mesh} {plural}"
            continue
        items = [i for i in server.get(f"{path}/edges").json()["items"] if i["edge"]["direction"] == view]
        assert items, f"{mesh} {plural} has {view} edges"
        assert {i["edge"]["side"] for i in items} == {side}, f"{mesh} {plural} {view}"
        assert all(i["backend"] is None for i in items)


def test_v1alpha1_answers_have_neither_side_nor_backend(server):
    item = server.get(f"{API_PREFIX}/namespaces/shop").json()
    assert list(item["edge"]) == ["direction", "resource"] and "backend" not in item
