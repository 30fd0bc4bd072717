"""Parse & validate: paths and query strings → Target, or the right Status error, before any query."""
import pytest

from metrics_api.apis.smi import API_PREFIX
from metrics_api.apis.smi.routing import parse
from metrics_api.core.errors import ApiError
from metrics_api.pipeline.plan import plan
from tests.support.catalog import packs

P = API_PREFIX


@pytest.fixture(scope="module", params=["linkerd", "istio"])
def pack(request):
    return packs.load(request.param)


def error_of(pack, path, query=None) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse(pack, path, query or {})
    return caught.value


def test_get_list_edges_targets(pack):
    got = parse(pack, f"{P}/namespaces/shop/deployments/web", {}).target
    assert (got.namespace, got.name, got.edges, got.window, got.kinds[0].name) == ("shop", "web", False, 30.0, "Deployment")
    listed = parse(pack, f"{P}/namespaces/shop/deployments", {"t": "1m30s"}).target
    assert (listed.namespace, listed.name, listed.window) == ("shop", None, 90.0)
    everywhere = parse(pack, f"{P}/deployments", {}).target
    assert (everywhere.namespace, everywhere.name) == (None, None)
    edges = parse(pack, f"{P}/namespaces/shop/deployments/web/edges", {}).target
    assert edges.edges and edges.name == "web"


def test_namespace_paths(pack):
    get = parse(pack, f"{P}/namespaces/shop", {})
    assert (get.target.kinds[0].name, get.target.name) == ("Namespace", "shop")
    edges = parse(pack, f"{P}/namespaces/shop/edges", {})
    assert edges.target.edges and edges.target.name == "shop"


@pytest.mark.parametrize("t", ["0s", "500ms", "25h", "abc", "30", "-1m", "1d"])
def test_bad_windows_are_400(pack, t):
    error = error_of(pack, f"{P}/namespaces/shop/deployments/web", {"t": t})
    assert error.code == 400 and error.reason == "BadRequest" and "window" in error.message


@pytest.mark.parametrize("t, seconds", [("1s", 1), ("24h", 86400), ("5m", 300)])
def test_window_bounds_are_inclusive(pack, t, seconds):
    assert parse(pack, f"{P}/namespaces/shop/deployments/web", {"t": t}).target.window == seconds


HOSTILE = ['web"', 'web"}', "we|b", ".*", ".+", "a}b", "a{b", "Web", "a b", "-web", "web-", "a\\b", "x" * 254,
           'web",namespace="kube-system', "a\nb"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_400(pack, name):
    error = error_of(pack, f"{P}/namespaces/shop/deployments/{name}")
    assert error.code == 400 and error.details["name"] == name


@pytest.mark.parametrize("namespace", ['sh"op', "a.b", ".*", "SHOP", "x" * 64])
def test_hostile_namespaces_are_400(pack, namespace):
    assert error_of(pack, f"{P}/namespaces/{namespace}/deployments").code == 400


@pytest.mark.parametrize("path", [
    f"{P}/namespaces/shop/widgets", f"{P}/widgets", f"{P}/namespaces/shop/deployments/web/edges/x",
    f"{P}/deployments/web", f"{P}/namespaces/shop/namespaces", f"{P}/namespaces/shop/deployments/web/status",
])
def test_unknown_paths_are_404(pack, path):
    error = error_of(pack, path)
    assert error.code == 404 and error.reason == "NotFound"


def test_kinds_without_edges_in_the_pack_are_404():
    istio = packs.load("istio")
    error = error_of(istio, f"{P}/namespaces/shop/pods/web-1/edges")
    assert error.code == 404 and "edges" in error.message


def test_a_dotted_name_is_an_exact_literal_in_every_query(pack):
    target = parse(pack, f"{P}/namespaces/ops/deployments/a.b/edges", {}).target
    for query in plan(pack, target):
        # the name is only ever an equality literal (packs may use regex matchers of their own)
        assert '"a.b"' in query.promql and query.promql.count("a.b") == query.promql.count('="a.b"')


def test_trafficmetrics_collapses_kinds_the_mesh_cannot_tell_apart():
    linkerd_kinds = {q.kind.name for q in plan(packs.load("linkerd"), parse(
        packs.load("linkerd"), f"{P}/namespaces/shop/trafficmetrics", {}).target)}
    istio = packs.load("istio")
    istio_kinds = {q.kind.name for q in plan(istio, parse(istio, f"{P}/namespaces/shop/trafficmetrics", {}).target)}
    assert linkerd_kinds == {"Deployment", "StatefulSet", "DaemonSet", "Job"}
    assert istio_kinds == {"Deployment"}
