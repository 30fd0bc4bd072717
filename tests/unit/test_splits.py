"""v1alpha2 pieces without a server: the packs' `sides` and `backends` keys, split objects read from a routes
file (every TrafficSplit version, GAMMA HTTPRoutes, ReferenceGrants), routing and discovery of the split
plurals, and the PromQL a split plans."""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from meshsim.routes import routes_yaml
from metrics_api.apis.served import served_apis
from metrics_api.apis.smi import V1ALPHA1, V1ALPHA2
from metrics_api.apis.smi.discovery import resource_list
from metrics_api.apis.smi.routing import parse
from metrics_api.core.errors import ApiError
from metrics_api.core.kinds import HTTPROUTE, TRAFFICSPLIT
from metrics_api.core.model import Ref, Side
from metrics_api.core.quantity import parse_quantity
from metrics_api.kube.routes import RoutesError, RoutesFile, integer_weights
from metrics_api.pipeline.splits import Split, SplitAnswers, SplitBackend
from tests.support.catalog import packs
from tests.support.packcheck import assert_rejected

P2 = V1ALPHA2.prefix


def test_every_shipped_pack_states_sides_for_every_source_and_how_it_sees_backends():
    for name in packs.names():
        pack = packs.load(name)
        sources = {s.source.name for k in pack.kinds.values() for s in (k.resource, *k.edges.values())}
        assert sources <= set(pack.sides), f"{name}: sources without a side: {sources - set(pack.sides)}"
        backends = pack.backends
        assert (backends.view is None) == bool(backends.unobservable), name
        if backends.view is not None:
            assert pack.side(backends.view) is Side.CLIENT, f"{name}: backends are measured by the client"


@pytest.fixture
def document():
    return yaml.safe_load((packs.directory / "linkerd.yaml").read_text())


@pytest.mark.parametrize("mutate, key, problem", [
    (lambda d: d["sides"].update(inbound="middle"), "sides.inbound", "client or server"),
    (lambda d: d["sides"].update(nope="client"), "sides.nope", "no source"),
    (lambda d: d["backends"].update(source="nope"), "backends.source", "nope"),
    (lambda d: d["backends"]["backend"].update(name="bad-label"), "backends.backend.name", "label name"),
    (lambda d: d["backends"]["apex"].update(match="{name}\\.svc"), "backends.apex.match", "{namespace}"),
    (lambda d: d["backends"]["apex"].update(match="({name}.{namespace}"), "backends.apex.match", "regular expression"),
    (lambda d: d.update(backends={"unobservable": ""}), "backends.unobservable", "non-empty"),
])
def test_broken_sides_and_backends_are_rejected(document, mutate, key, problem):
    assert_rejected(document, mutate, key, problem)


def test_a_pack_without_the_new_keys_still_loads(document):
    """User packs written before v1alpha2 keep working: sides unknown, backends unobservable."""
    from metrics_api.packs.loader import parse as load

    del document["sides"], document["backends"]
    pack = load(document, "old.yaml")
    assert pack.sides == {} and pack.backends.view is None and pack.backends.unobservable


@pytest.mark.parametrize("text, value", [("900m", Fraction(9, 10)), ("1", 1), (90, 90), ("1.5k", 1500),
                                         ("2Ki", 2048), ("1e3", 1000), (" 10 ", 10)])
def test_quantities(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "ten", "5x", "1..2", True])
def test_bad_quantities(text):
    with pytest.raises(ValueError):
        parse_quantity(text)


def test_integer_weights_keep_proportions():
    assert integer_weights([Fraction(90), Fraction(10)]) == [90, 10]
    assert integer_weights([Fraction(9, 10), Fraction(1, 10)]) == [900, 100]
    assert integer_weights([Fraction(1), Fraction(1, 2)]) == [1000, 500]


@pytest.fixture
def routes(tmp_path: Path) -> RoutesFile:
    path = tmp_path / "routes.yaml"
    path.write_text(routes_yaml())
    return RoutesFile(path)


async def test_traffic_splits_of_every_version(routes):
    splits = {s.ref.name: s for s in await routes.splits(TRAFFICSPLIT, "shop")}
    assert set(splits) == {"checkout", "checkout-v1alpha2", "checkout-v1alpha3", "checkout-v1alpha4"}
    assert [(b.name, b.weight) for b in splits["checkout"].backends] == [("checkout-stable", 900),
                                                                        ("checkout-canary", 100)]
    for version in ("v1alpha2", "v1alpha3", "v1alpha4"):
        split = splits[f"checkout-{version}"]
        assert split.apex == Ref("shop", "checkout", "Service") and split.clients is None
        assert [(b.namespace, b.name, b.weight) for b in split.backends] == [
            ("shop", "checkout-stable", 90), ("shop", "checkout-canary", 10)]
    assert await routes.splits(TRAFFICSPLIT, "ops") == []


async def test_gamma_routes_producer_consumer_and_grants(routes):
    listed = await routes.splits(HTTPROUTE, None)
    assert [(s.ref.namespace, s.ref.name) for s in listed] == [("ops", "checkout"), ("pay", "ledger"), ("shop", "checkout")]
    consumer, ledger, producer = listed
    assert producer.clients is None and producer.apex == Ref("shop", "checkout", "Service")
    assert consumer.clients == "ops" and consumer.apex == Ref("shop", "checkout", "Service")
    assert [(b.namespace, b.name, b.weight, b.measured) for b in consumer.backends] == [
        ("shop", "checkout-stable", 100, True), ("shop", "checkout-canary", 0, False)]   # only stable is granted
    assert [(b.name, b.weight) for b in ledger.backends] == [("ledger", 100), ("ledger-v2", 0)]


def test_a_route_attached_only_to_a_gateway_is_no_split(tmp_path):
    path = tmp_path / "routes.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                                    "metadata": {"name": "web", "namespace": "shop"},
                                    "spec": {"parentRefs": [{"kind": "Gateway", "name": "public"}],
                                             "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}}))
    assert RoutesFile(path).objects.splits(HTTPROUTE, None) == []


@pytest.mark.parametrize("content, problem", [
    ("a: [", "not valid YAML"),
    ("apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: s}\nspec: {backends: []}\n",
     "spec.service"),
    (("apiVersion: split.smi-spec.io/v1alpha1\nkind: TrafficSplit\nmetadata: {name: s}\n"
      "spec: {service: a, backends: [{service: b, weight: lots}]}\n"), "weight"),
    ("kind: List\nitems: [3]\n", "Kubernetes object"),
])
def test_bad_routes_files_name_the_problem(tmp_path, content, problem):
    path = tmp_path / "routes.yaml"
    path.write_text(content)
    with pytest.raises(RoutesError, match=problem):
        RoutesFile(path)


def test_split_plurals_route_only_in_v1alpha2_and_only_when_served():
    pack = packs.load("linkerd")
    target = parse(pack, f"{P2}/namespaces/shop/trafficsplits/checkout", {}, V1ALPHA2, splits=True).target
    assert (target.kinds, target.name, target.version) == ((TRAFFICSPLIT,), "checkout", "v1alpha2")
    assert parse(pack, f"{P2}/httproutes", {}, V1ALPHA2, splits=True).target.namespace is None
    for path, version, splits, code in (
            (f"{V1ALPHA1.prefix}/namespaces/shop/trafficsplits", V1ALPHA1, True, 404),
            (f"{P2}/namespaces/shop/trafficsplits", V1ALPHA2, False, 404),
            (f"{P2}/namespaces/shop/trafficsplits/checkout/edges", V1ALPHA2, True, 404),
            (f"{P2}/namespaces/shop/httproutes/Bad_Name", V1ALPHA2, True, 400)):
        with pytest.raises(ApiError) as caught:
            parse(pack, path, {}, version, splits)
        assert caught.value.code == code, path
    with pytest.raises(ApiError) as caught:
        parse(pack, f"{P2}/namespaces/shop/trafficsplits", {"labelSelector": "a=b"}, V1ALPHA2, splits=True)
    assert caught.value.code == 400


def test_discovery_lists_both_versions_and_splits_only_in_v1alpha2_when_served():
    pack = packs.load("linkerd")
    group = json.loads(served_apis(pack, custom_metrics=False, external_metrics=False).documents["/apis/metrics.smi-spec.io"])
    assert [v["version"] for v in group["versions"]] == ["v1alpha2", "v1alpha1"]
    assert group["preferredVersion"]["version"] == "v1alpha2"
    names = {r["name"]: r["kind"] for r in resource_list(pack, V1ALPHA2, splits=True)["resources"]}
    assert names["trafficsplits"] == "TrafficSplitMetrics" and names["httproutes"] == "HTTPRouteMetrics"
    assert "trafficsplits" not in {r["name"] for r in resource_list(pack, V1ALPHA2, splits=False)["resources"]}
    assert "trafficsplits" not in {r["name"] for r in resource_list(pack, V1ALPHA1, splits=True)["resources"]}
    assert resource_list(pack, V1ALPHA2)["groupVersion"] == "metrics.smi-spec.io/v1alpha2"


@pytest.mark.parametrize("mesh, expected", [
    ("linkerd", ['authority=~"checkout\\\\.shop\\\\.svc(\\\\.[a-z0-9.-]+)?(:[0-9]+)?"', 'namespace="ops"',
                 'dst_namespace=~"shop"', 'dst_service=~"(?:checkout-canary|checkout-stable)"']),
    ("consul", ['namespace="ops"', 'consul_destination_service=~"(?:checkout-canary|checkout-stable)"']),
    # Kuma: the legacy cluster-name alternative of each derived-label pattern (queries/kuma.yaml parses
    # legacy, MeshService and KRI names).
    ("kuma", ['namespace="ops"', 'envoy_cluster_name=~"[a-z0-9-]+_shop_svc_[0-9]+(-[0-9a-f]{16})?|',
              'envoy_cluster_name=~"(?:checkout-canary|checkout-stable)_[a-z0-9-]+_svc_[0-9]+(-[0-9a-f]{16})?|']),
])
def test_a_consumer_route_plans_one_matcher_per_fact(mesh, expected):
    pack = packs.load(mesh)
    answers = SplitAnswers(pack, pack.backends.view, source=None, fetcher=None, budget=1.0)
    split = Split(Ref("ops", "checkout", "HTTPRoute"), Ref("shop", "checkout", "Service"),
                  (SplitBackend("shop", "checkout-stable", 90), SplitBackend("shop", "checkout-canary", 10),
                   SplitBackend("pay", "elsewhere", 1, measured=False)), clients="ops")
    counts = answers._plan(0, split, 30.0)[0].promql
    for matcher in expected:
        assert matcher in counts, counts
    assert "elsewhere" not in counts and "pay" not in counts
