"""Table cells (human units) and the choice between JSON and a Table, without a server."""
from __future__ import annotations

import orjson
import pytest

from metrics_api.apis.smi.render import render_json
from metrics_api.apis.smi.table import renderer_for
from metrics_api.core.cells import format_latency, format_percent, format_rate
from metrics_api.core.errors import ApiError
from metrics_api.core.kinds import BY_PLURAL, TRAFFICMETRICS, WORKLOAD_KINDS
from metrics_api.core.model import Answer, Ref, Row, Target
from metrics_api.http.media import parse_accept

KUBECTL_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
                  "application/json")


@pytest.mark.parametrize("ms, text", [
    (None, "-"), (0.0, "0ms"), (0.04, "0ms"), (0.5, "0.5ms"), (2.5, "2.5ms"), (9.2, "9.2ms"), (9.96, "10ms"),
    (12.4, "12ms"), (390.0, "390ms"), (999.4, "999ms"), (999.6, "1s"), (1249.0, "1.2s"), (9960.0, "10s"),
    (50000.0, "50s"),
])
def test_latency_in_human_units(ms, text):
    assert format_latency(ms) == text


@pytest.mark.parametrize("success, total, text", [
    (0, 0, "-"), (10, 10, "100.00%"), (99999, 100000, "99.99%"), (199, 200, "99.50%"), (0, 5, "0.00%"),
    (2, 3, "66.66%"),
])
def test_success_as_a_truncated_percent(success, total, text):
    assert format_percent(success, total) == text


@pytest.mark.parametrize("rps, text", [(0, "0"), (0.05, "0.05"), (0.5, "0.5"), (2.5, "2.5"), (22.0, "22"),
                                       (12.34, "12.3"), (150.4, "150")])
def test_rate(rps, text):
    assert format_rate(rps) == text


def test_accept_ranges_ordered_by_quality_then_position():
    ranges = parse_accept("text/html;q=0.5, application/json;as=Table;v=v1;g=meta.k8s.io, */*;q=0")
    assert [(r.mime, r.params.get("as")) for r in ranges] == [("application/json", "Table"), ("text/html", None)]
    assert parse_accept(None)[0].is_json and parse_accept("")[0].is_json


def answer(plural: str, rows: list[Row], name: str | None = None, edges: bool = False) -> Answer:
    kinds = WORKLOAD_KINDS if plural == TRAFFICMETRICS else (BY_PLURAL[plural],)
    return Answer(Target(plural, kinds, "shop", name, edges, 30.0), rows, 1.7e9, "/path", root=None)


WEB = Row(Ref("shop", "web", "Deployment"), "", None, success=594, failure=6,
          latency_ms={"p50": 9.1666, "p90": 50.0, "p99": 390.0})
IDLE = Row(Ref("shop", "idle", "Deployment"), "", None)


def table(accept: str, query: dict[str, str], result: Answer) -> dict:
    return orjson.loads(renderer_for(accept, query)(result))


def test_kubectl_gets_a_table_with_metadata_rows():
    doc = table(KUBECTL_ACCEPT, {}, answer("deployments", [IDLE, WEB]))
    assert (doc["kind"], doc["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    columns = [(c["name"], c["priority"]) for c in doc["columnDefinitions"]]
    assert columns == [("Name", 0), ("Success", 0), ("RPS", 0), ("Latency_P50", 0), ("Latency_P90", 0),
                       ("Latency_P99", 0), ("Window", 0), ("Success_Count", 1), ("Failure_Count", 1)]
    assert doc["columnDefinitions"][0]["format"] == "name"
    assert [row["cells"] for row in doc["rows"]] == [
        ["idle", "-", "0", "-", "-", "-", "30s", 0, 0],
        ["web", "99.00%", "20", "9.2ms", "50ms", "390ms", "30s", 594, 6],
    ]
    assert doc["rows"][1]["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": {
        "name": "web", "namespace": "shop", "selfLink": "/apis/metrics.smi-spec.io/v1alpha1/namespaces/shop/deployments/web",
        "creationTimestamp": "2023-11-14T22:13:20Z"}}


def test_trafficmetrics_and_edges_columns():
    names = [c["name"] for c in table(KUBECTL_ACCEPT, {}, answer(TRAFFICMETRICS, [WEB]))["columnDefinitions"]]
    assert names[:3] == ["Name", "Kind", "Success"]
    edge = Row(WEB.resource, "to", Ref("shop", "db", "StatefulSet"), success=1)
    doc = table(KUBECTL_ACCEPT, {}, answer("deployments", [edge], name="web", edges=True))
    assert [c["name"] for c in doc["columnDefinitions"]][:5] == ["Name", "Direction", "Peer", "Peer_Namespace", "Success"]
    assert doc["rows"][0]["cells"][:5] == ["web", "to", "statefulset/db", "shop", "100.00%"]


def test_include_object():
    result = answer("deployments", [WEB])
    assert "object" not in table(KUBECTL_ACCEPT, {"includeObject": "None"}, result)["rows"][0]
    full = table(KUBECTL_ACCEPT, {"includeObject": "Object"}, result)["rows"][0]["object"]
    assert full == orjson.loads(render_json(result))["items"][0]
    with pytest.raises(ApiError) as error:
        renderer_for(KUBECTL_ACCEPT, {"includeObject": "Everything"})
    assert error.value.code == 400 and "unrecognized includeObject value" in error.value.message


def test_v1beta1_table_and_plain_json():
    result = answer("deployments", [WEB])
    assert table("application/json;as=Table;v=v1beta1;g=meta.k8s.io", {}, result)["apiVersion"] == "meta.k8s.io/v1beta1"
    for accept in (None, "application/json", "*/*", "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,"
                   "application/json", "application/json;as=Table;v=v2;g=meta.k8s.io,application/json"):
        assert renderer_for(accept, {"includeObject": "Everything"}) is render_json, accept


def test_nothing_we_can_serve_is_406():
    for accept in ("application/vnd.kubernetes.protobuf", "application/yaml", "application/json;as=Table;v=v2;g=meta.k8s.io"):
        with pytest.raises(ApiError) as error:
            renderer_for(accept, {})
        assert error.value.code == 406, accept
