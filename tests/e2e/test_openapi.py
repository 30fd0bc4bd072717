"""OpenAPI documents (what `kubectl explain` and the aggregator read) and their caching rules."""
from __future__ import annotations

import email.utils
import http.client
import ssl
import time

import pytest

from metrics_api.apis.smi import API_PREFIX, V1ALPHA2
from metrics_api.apis.smi.openapi import V3_GROUP_PATH, openapi_v3, swagger_v2
from tests.support.catalog import packs

INSECURE = ssl._create_unverified_context()


@pytest.fixture(scope="module")
def server(api_server):
    return api_server("linkerd")


def raw_get(server, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    """One request without following redirects (urllib would follow the 301 we want to see)."""
    connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=INSECURE, timeout=10)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def refs(node) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if "$ref" in node else set()
        return found.union(*(refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(value) for value in node))
    return set()


P = API_PREFIX
NAMESPACED = ("deployments", "statefulsets", "daemonsets", "jobs", "replicasets", "pods", "services", "trafficmetrics")
# Every path CONTRACT §2 gives the linkerd pack (it serves every plural, each with edges), written out.
LINKERD_PATHS = {
    f"{P}/namespaces", f"{P}/namespaces/{{name}}", f"{P}/namespaces/{{name}}/edges",
    *(f"{P}/{plural}" for plural in NAMESPACED),
    *(f"{P}/namespaces/{{namespace}}/{plural}" for plural in NAMESPACED),
    *(f"{P}/namespaces/{{namespace}}/{plural}/{{name}}" for plural in NAMESPACED),
    *(f"{P}/namespaces/{{namespace}}/{plural}/{{name}}/edges" for plural in NAMESPACED),
}
PATHS = {
    "linkerd": LINKERD_PATHS,
    # queries/istio.yaml: no replicasets (pods have edges, with workload peers: the scraped pod of a sidecar)
    "istio": LINKERD_PATHS - {f"{P}/replicasets", f"{P}/namespaces/{{namespace}}/replicasets",
                              f"{P}/namespaces/{{namespace}}/replicasets/{{name}}",
                              f"{P}/namespaces/{{namespace}}/replicasets/{{name}}/edges"},
}


def test_the_path_lists_are_what_the_contract_counts():
    assert len(LINKERD_PATHS) == 3 + 4 * 8 and len(PATHS["istio"]) == len(LINKERD_PATHS) - 4


@pytest.mark.parametrize("mesh", ["linkerd", "istio"])
def test_documents_are_self_contained_and_name_the_kinds(mesh):
    pack = packs.load(mesh)
    v2, v3 = swagger_v2(pack), openapi_v3(pack)
    assert v2["swagger"] == "2.0" and v3["openapi"].startswith("3.")
    assert refs(v2) == {"#/definitions/" + name for name in v2["definitions"]}
    assert refs(v3) == {"#/components/schemas/" + name for name in v3["components"]["schemas"]}
    kinds = {gvk["kind"] for schema in v3["components"]["schemas"].values()
             for gvk in schema.get("x-kubernetes-group-version-kind", [])}
    assert kinds == {"TrafficMetrics", "TrafficMetricsList"}
    paths = set(v3["paths"])
    assert paths == PATHS[mesh]
    # Swagger 2.0 holds every version: v1alpha2 serves the same paths under its own prefix.
    assert set(v2["paths"]) == paths | {path.replace(API_PREFIX, V1ALPHA2.prefix) for path in PATHS[mesh]}
    ids = [op["get"]["operationId"] for op in v3["paths"].values()]
    assert len(ids) == len(set(ids))


def test_v2_etag_and_304(server):
    first = server.get("/openapi/v2")
    assert first.status == 200 and first.json()["swagger"] == "2.0"
    etag = first.headers["ETag"]
    assert etag.startswith('"') and len(etag) == 130   # quoted upper-hex SHA-512
    again = server.get("/openapi/v2", headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b"" and again.headers["ETag"] == etag
    assert server.get("/openapi/v2", headers={"If-None-Match": '"stale"'}).status == 200


def test_v2_protobuf_only_is_406(server):
    reply = server.get("/openapi/v2", headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
    assert reply.status == 406 and reply.json()["kind"] == "Status"


def test_v3_root_points_at_the_current_hash(server):
    root = server.get("/openapi/v3").json()
    url = root["paths"]["apis/metrics.smi-spec.io/v1alpha1"]["serverRelativeURL"]
    group = server.get(V3_GROUP_PATH)
    assert url == f"{V3_GROUP_PATH}?hash={group.headers['ETag'].strip(chr(34))}"
    assert group.json()["openapi"].startswith("3.") and group.headers["Vary"] == "Accept"


def test_v3_hash_rules(server):
    current = server.get("/openapi/v3").json()["paths"]["apis/metrics.smi-spec.io/v1alpha1"]["serverRelativeURL"]
    stale = raw_get(server, f"{V3_GROUP_PATH}?hash=0123ABCD")
    assert stale.status == 301 and stale.getheader("Location") == current
    fresh = raw_get(server, current)
    assert fresh.status == 200 and fresh.getheader("Cache-Control") == "public, immutable"
    expires = email.utils.parsedate_to_datetime(fresh.getheader("Expires")).timestamp()
    assert expires == pytest.approx(time.time() + 365 * 86400, abs=120)
    unhashed = raw_get(server, V3_GROUP_PATH)
    assert unhashed.status == 200 and unhashed.getheader("Cache-Control") is None
    revalidated = raw_get(server, current, {"If-None-Match": fresh.getheader("ETag")})
    assert revalidated.status == 304


def test_v1alpha2_document_has_side_backend_and_the_split_kinds():
    pack = packs.load("linkerd")
    v3 = openapi_v3(pack, V1ALPHA2, splits=True)
    schemas = v3["components"]["schemas"]
    prefix = "io.smi-spec.metrics.v1alpha2."
    assert schemas[prefix + "Edge"]["properties"]["side"]["enum"] == ["client", "server"]
    assert set(schemas[prefix + "Backend"]["properties"]) == {"apex", "name", "weight"}
    kinds = {gvk["kind"] for gvk in schemas[prefix + "TrafficMetricsList"]["x-kubernetes-group-version-kind"]}
    assert kinds == {"TrafficMetricsList", "TrafficSplitMetrics", "HTTPRouteMetrics"}
    split_get = v3["paths"][f"{V1ALPHA2.prefix}/namespaces/{{namespace}}/trafficsplits/{{name}}"]["get"]
    assert split_get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("TrafficMetricsList")
    assert refs(v3) == {"#/components/schemas/" + name for name in schemas}


def test_v3_root_lists_both_versions(server):
    paths = server.get("/openapi/v3").json()["paths"]
    assert set(paths) == {"apis/metrics.smi-spec.io/v1alpha1", "apis/metrics.smi-spec.io/v1alpha2"}
    v2 = server.get(paths["apis/metrics.smi-spec.io/v1alpha2"]["serverRelativeURL"])
    assert v2.status == 200 and any(p.startswith(V1ALPHA2.prefix) for p in v2.json()["paths"])


def test_unknown_openapi_path_is_404(server):
    reply = server.get("/openapi/v3/apis/apps/v1")
    assert reply.status == 404 and reply.json()["reason"] == "NotFound"
