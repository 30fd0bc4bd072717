"""custom.metrics.k8s.io and external.metrics.k8s.io (CONTRACT §5) against the real-Prometheus scenario:
the exact requests HPA's and Flagger's clients send (k8s.io/metrics pkg/client/custom_metrics and
external_metrics), values compared with tests/support/truth.py, discovery, errors, idle semantics, the
shared pipeline, and, on the Kubernetes stand-in, `pods/*` with a label selector and the
SubjectAccessReview attributes kube-apiserver would use."""
from __future__ import annotations

import re
import urllib.parse

import pytest

from tests.support import truth
from tests.support.expectations import SIGHT, WINDOWS, quantity, resource_truth
from tests.support.truth import Ref

C2 = "/apis/custom.metrics.k8s.io/v1beta2"
C1 = "/apis/custom.metrics.k8s.io/v1beta1"
E = "/apis/external.metrics.k8s.io/v1beta1"
MESH = "linkerd"
FLAGS = ("--enable-custom-metrics", "--enable-external-metrics")
# What the clients send as Accept: HPA (kube-controller-manager's default content type is protobuf, and
# client-go adds `, */*`), Flagger and kubectl (JSON).
HPA_ACCEPT = "application/vnd.kubernetes.protobuf, */*"
JSON_ACCEPT = "application/json, */*"
METRICS = ("request_rate", "success_rate", "success_count", "failure_count",
           "p50_response_latency", "p90_response_latency", "p99_response_latency")
COUNTED = ("request_rate", "success_count", "failure_count")   # 0 without requests; the others have no value
RESOURCES = {"Deployment": "deployments.apps", "StatefulSet": "statefulsets.apps", "DaemonSet": "daemonsets.apps",
             "Job": "jobs.batch", "ReplicaSet": "replicasets.apps", "Pod": "pods", "Service": "services"}
API_VERSIONS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "Job": "batch/v1",
                "ReplicaSet": "apps/v1", "Pod": "v1", "Service": "v1", "Namespace": "v1"}


@pytest.fixture(scope="module")
def server(api_server):
    return api_server(MESH, *FLAGS)


def expected(metrics: truth.Metrics, metric: str) -> float:
    return {"request_rate": metrics.request_rate, "success_rate": metrics.success_rate,
            "success_count": metrics.success_count, "failure_count": metrics.failure_count,
            "p50_response_latency": metrics.p50, "p90_response_latency": metrics.p90,
            "p99_response_latency": metrics.p99}[metric]


def assert_value(text: str, want: float, context: str) -> None:
    assert quantity(text) == pytest.approx(want, rel=0.01, abs=0.002), f"{context}: {text} vs truth {want}"


def selector_query(window: str | None, parameter: str = "metricLabelSelector", **labels: str) -> str:
    """The query string client-go builds: url.Values.Encode() (keys sorted, `=` and `,` escaped)."""
    requirements = [f"{k}={v}" for k, v in labels.items()] + ([f"window={window}"] if window else [])
    return "?" + urllib.parse.urlencode({parameter: ",".join(requirements)}) if requirements else ""


def object_path(prefix: str, ref: Ref, metric: str) -> str:
    if ref.kind == "Namespace":
        return f"{prefix}/namespaces/{ref.name}/metrics/{metric}"
    return f"{prefix}/namespaces/{ref.namespace}/{RESOURCES[ref.kind]}/{ref.name}/{metric}"


def described(ref: Ref) -> dict:
    if ref.kind == "Namespace":
        return {"kind": "Namespace", "name": ref.name, "apiVersion": "v1"}
    return {"kind": ref.kind, "namespace": ref.namespace, "name": ref.name, "apiVersion": API_VERSIONS[ref.kind]}


# ---------------------------------------------------------------- HPA Object metrics (GetForObject)

OBJECTS = (Ref("Deployment", "shop", "web"), Ref("StatefulSet", "shop", "db"), Ref("DaemonSet", "ops", "agent"),
           Ref("Job", "ops", "backup"), Ref("Pod", "shop", "db-0"), Ref("Service", "shop", "api"), Ref.ns("shop"))


@pytest.mark.parametrize("ref", OBJECTS, ids=str)
@pytest.mark.parametrize("window", [None, "30s", "1m", "5m"])
def test_object_metric_v1beta2_equals_truth(server, scenario, ref, window):
    seconds = WINDOWS[window or "1m"]
    metrics = resource_truth(scenario, MESH, SIGHT[MESH], ref, seconds)
    for metric in METRICS:
        reply = server.get(object_path(C2, ref, metric) + selector_query(window), headers={"Accept": HPA_ACCEPT})
        if metrics.total == 0 and metric not in COUNTED:   # a pure caller (agent, backup): no value
            assert reply.status == 404, (metric, reply.body)
            continue
        assert reply.status == 200, (metric, reply.body)
        assert reply.headers["Content-Type"].startswith("application/json")
        body = reply.json()
        assert (body["kind"], body["apiVersion"], body["metadata"]) == (
            "MetricValueList", "custom.metrics.k8s.io/v1beta2", {})
        [item] = body["items"]
        assert list(item) == ["describedObject", "metric", "timestamp", "windowSeconds", "value"]
        assert item["describedObject"] == described(ref)
        assert item["metric"] == {"name": metric,
                                  "selector": {"matchLabels": {"window": window}} if window else None}
        assert item["windowSeconds"] == seconds and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", item["timestamp"])
        assert_value(item["value"], expected(metrics, metric), f"{ref} {metric} {window}")


@pytest.mark.parametrize("window", [None, "5m"])
def test_object_metric_v1beta1_field_names(server, scenario, window):
    ref = Ref("Deployment", "shop", "web")
    metrics = resource_truth(scenario, MESH, SIGHT[MESH], ref, WINDOWS[window or "1m"])
    body = server.get(object_path(C1, ref, "request_rate") + selector_query(window),
                      headers={"Accept": HPA_ACCEPT}).json()
    assert body["apiVersion"] == "custom.metrics.k8s.io/v1beta1"
    [item] = body["items"]
    assert list(item) == ["describedObject", "metricName", "timestamp", "window", "value", "selector"]
    assert (item["metricName"], item["window"]) == ("request_rate", WINDOWS[window or "1m"])
    assert item["selector"] == ({"matchLabels": {"window": window}} if window else None)
    assert_value(item["value"], metrics.request_rate, "v1beta1 request_rate")


def test_pods_star_without_a_label_selector_lists_every_pod_of_the_namespace(server, scenario):
    """`pods/*` with labelSelector needs the cluster (see the stand-in test); without one, every pod."""
    body = server.get(f"{C2}/namespaces/shop/pods/*/request_rate", headers={"Accept": HPA_ACCEPT}).json()
    got = {item["describedObject"]["name"]: item["value"] for item in body["items"]}
    pods = truth.resources(scenario, "Pod", "shop")
    assert set(got) == {p.name for p in pods}
    for pod in pods:
        assert_value(got[pod.name], truth.resource_metrics(scenario, MESH, pod, 60).request_rate, str(pod))


def test_pods_star_with_a_label_selector_in_local_mode_is_400(server):
    reply = server.get(f"{C2}/namespaces/shop/pods/*/request_rate?labelSelector=app%3Dweb")
    assert reply.status == 400 and "labelSelector" in reply.json()["message"]


# ---------------------------------------------------------------- idle: 0 where 0 is true, else no value

def test_idle_object_counts_are_zero_and_ratios_have_no_value(server):
    idle = Ref("Deployment", "shop", "idle")
    for metric in ("request_rate", "success_count", "failure_count"):
        [item] = server.get(object_path(C2, idle, metric)).json()["items"]
        assert item["value"] == "0", metric
    for metric in ("success_rate", "p50_response_latency", "p99_response_latency"):
        reply = server.get(object_path(C2, idle, metric) + selector_query("5m"))
        body = reply.json()
        assert (reply.status, body["kind"], body["reason"]) == (404, "Status", "NotFound"), metric
        assert metric in body["message"] and "shop/idle" in body["message"] and "5m0s" in body["message"]


def test_a_star_list_omits_objects_without_a_value(server, scenario):
    body = server.get(f"{C2}/namespaces/shop/deployments.apps/*/success_rate").json()
    names = [item["describedObject"]["name"] for item in body["items"]]
    assert "idle" not in names and {"web", "api"} <= set(names)
    counts = server.get(f"{C2}/namespaces/shop/deployments.apps/*/request_rate").json()
    assert {item["describedObject"]["name"]: item["value"] for item in counts["items"]}["idle"] == "0"


def test_external_idle_success_rate_is_an_empty_list(server):
    reply = server.get(f"{E}/namespaces/shop/success_rate" + selector_query(None, "labelSelector", deployment="idle"))
    assert reply.status == 200 and reply.json()["items"] == []
    [item] = server.get(f"{E}/namespaces/shop/request_rate"
                        + selector_query(None, "labelSelector", deployment="idle")).json()["items"]
    assert item["value"] == "0"


# ---------------------------------------------------------------- errors, before any query

@pytest.mark.parametrize("path", [
    f"{C2}/namespaces/shop/deployments.apps/web/requests_per_second",      # unknown metric
    f"{C2}/namespaces/shop/deployments/web/request_rate",                  # HPA always qualifies the group
    f"{C2}/namespaces/shop/ingresses.networking.k8s.io/web/request_rate",  # not a kind we measure
    f"{C2}/namespaces/shop/deployments.apps/nothere/request_rate",         # unknown object
    f"{C2}/nodes/node-1/request_rate",                                     # root-scoped objects are not served
    f"{C2}/namespaces/shop/metrics/latency",
    f"{E}/namespaces/shop/requests",
    f"{E}/namespaces/shop/request_rate?labelSelector=deployment%3Dnothere",
])
def test_unknown_metric_resource_or_object_is_404(server, path):
    reply = server.get(path)
    assert (reply.status, reply.json()["kind"], reply.json()["reason"]) == (404, "Status", "NotFound"), reply.body


@pytest.mark.parametrize("query", ["window%3Dabc", "window%3D0s", "window%3D25h", "window%3D5m%2Cpod%3Dx",
                                   "window+in+%285m%2C1m%29", "%21window", "window%3D%3D"])
def test_bad_metric_selector_is_400(server, query):
    reply = server.get(f"{C2}/namespaces/shop/deployments.apps/web/request_rate?metricLabelSelector={query}")
    assert (reply.status, reply.json()["reason"]) == (400, "BadRequest"), reply.body


@pytest.mark.parametrize("path", [
    f"{C2}/namespaces/Shop/deployments.apps/web/request_rate",
    f"{C2}/namespaces/shop/deployments.apps/We_b/request_rate",
    f"{C2}/namespaces/shop/deployments.apps/web/request_rate?labelSelector=app%3Dweb",
    f"{E}/namespaces/shop/request_rate?labelSelector=deployment%3Dweb%2Cservice%3Dweb",
    f"{E}/namespaces/shop/request_rate?labelSelector=app%3Dweb",
    f"{E}/namespaces/shop/request_rate?labelSelector=deployment%3D%22%7D",
    f"{E}/namespaces/shop/request_rate?labelSelector=deployment%3Dweb%2Cwindow%3Dforever",
])
def test_bad_names_and_selectors_are_400(server, path):
    reply = server.get(path)
    assert (reply.status, reply.json()["reason"]) == (400, "BadRequest"), reply.body


def test_protobuf_only_is_406_and_watch_is_405(server):
    path = object_path(C2, Ref("Deployment", "shop", "web"), "request_rate")
    assert server.get(path, headers={"Accept": "application/vnd.kubernetes.protobuf"}).status == 406
    # kube-apiserver reads `watch` only where a path names no object (requestinfo.go: a get without a
    # name becomes list or watch): a named get stays a get, an external metric (a list) becomes a watch.
    assert server.get(path + "?watch=true").status == 200
    assert server.get(f"{E}/namespaces/shop/request_rate?watch=true").status == 405


# ---------------------------------------------------------------- external.metrics.k8s.io and Flagger

@pytest.mark.parametrize("ref", [Ref("Deployment", "shop", "web"), Ref("StatefulSet", "pay", "ledger"),
                                 Ref("Service", "shop", "api"), Ref("Job", "ops", "backup"), Ref.ns("pay")], ids=str)
@pytest.mark.parametrize("window", [None, "30s", "5m"])
def test_external_metric_equals_truth(server, scenario, ref, window):
    seconds = WINDOWS[window or "1m"]
    metrics = resource_truth(scenario, MESH, SIGHT[MESH], ref, seconds)
    labels = {} if ref.kind == "Namespace" else {ref.kind.lower(): ref.name}
    namespace = ref.name if ref.kind == "Namespace" else ref.namespace
    for metric in METRICS:
        reply = server.get(f"{E}/namespaces/{namespace}/{metric}" + selector_query(window, "labelSelector", **labels),
                           headers={"Accept": JSON_ACCEPT})
        body = reply.json()
        assert (reply.status, body["kind"], body["apiVersion"], body["metadata"]) == (
            200, "ExternalMetricValueList", "external.metrics.k8s.io/v1beta1", {})
        if metrics.total == 0 and metric not in COUNTED:
            assert body["items"] == [], metric
            continue
        [item] = body["items"]
        assert list(item) == ["metricName", "metricLabels", "timestamp", "window", "value"]
        assert item["metricLabels"] == {**labels, **({"window": window} if window else {})}
        assert (item["metricName"], item["window"]) == (metric, seconds)
        assert_value(item["value"], expected(metrics, metric), f"{ref} {metric} {window}")


def flagger_query(server, query: str) -> float:
    """Flagger's externalmetrics provider (fluxcd/flagger pkg/metrics/providers/externalmetrics.go):
    `<namespace>/<metric>?labelSelector=<urlencoded>` → List(metric, selector) → the first item's value
    as AsApproximateFloat64; no items is ErrNoValuesFound."""
    parsed = urllib.parse.urlsplit("dummy:///" + query)
    namespace, metric = parsed.path.lstrip("/").split("/")
    selector = urllib.parse.parse_qs(parsed.query)["labelSelector"][0]
    reply = server.get(f"{E}/namespaces/{namespace}/{metric}?" + urllib.parse.urlencode({"labelSelector": selector}),
                       headers={"Accept": JSON_ACCEPT})
    assert reply.status == 200, reply.body
    items = reply.json()["items"]
    if not items:
        raise LookupError("no values found")
    return quantity(items[0]["value"])


def test_flagger_metric_templates(server, scenario):
    web = Ref("Deployment", "shop", "web")
    metrics = resource_truth(scenario, MESH, SIGHT[MESH], web, 60)
    success = flagger_query(server, "shop/success_rate?labelSelector=deployment%3Dweb%2Cwindow%3D1m")
    p99 = flagger_query(server, "shop/p99_response_latency?labelSelector=deployment%3Dweb%2Cwindow%3D1m")
    assert success == pytest.approx(metrics.success_rate, abs=0.001) and success >= 0.99
    assert p99 == pytest.approx(metrics.p99, rel=0.01)
    with pytest.raises(LookupError):   # an idle canary: "no values", never a failing 0
        flagger_query(server, "shop/success_rate?labelSelector=deployment%3Didle%2Cwindow%3D1m")


# ---------------------------------------------------------------- discovery, OpenAPI, our own metrics

def test_discovery_lists_exactly_the_served_metric_resources(server):
    groups = {g["name"]: g for g in server.get("/apis").json()["groups"]}
    assert set(groups) == {"metrics.smi-spec.io", "custom.metrics.k8s.io", "external.metrics.k8s.io"}
    custom = server.get("/apis/custom.metrics.k8s.io").json()
    assert custom["kind"] == "APIGroup" and custom["preferredVersion"]["version"] == "v1beta2"
    assert [v["version"] for v in custom["versions"]] == ["v1beta2", "v1beta1"]
    served = [r for k, r in RESOURCES.items() if k in SIGHT[MESH].kinds]
    for prefix in (C2, C1):
        body = server.get(prefix).json()
        assert (body["kind"], body["groupVersion"]) == ("APIResourceList", prefix.removeprefix("/apis/"))
        names = {r["name"]: r for r in body["resources"]}
        assert set(names) == {f"{r}/{m}" for r in served for m in METRICS} | {f"namespaces/{m}" for m in METRICS}
        for name, entry in names.items():
            assert (entry["kind"], entry["verbs"]) == ("MetricValueList", ["get"])
            assert entry["namespaced"] == (not name.startswith("namespaces/")), name
    external = server.get(E).json()
    assert {r["name"] for r in external["resources"]} == set(METRICS)
    assert all(r["kind"] == "ExternalMetricValueList" and r["namespaced"] for r in external["resources"])


def test_aggregated_discovery_has_every_group(server):
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    body = server.get("/apis", headers={"Accept": accept}).json()
    versions = {item["metadata"]["name"]: [v["version"] for v in item["versions"]] for item in body["items"]}
    assert versions == {"metrics.smi-spec.io": ["v1alpha2", "v1alpha1"], "custom.metrics.k8s.io": ["v1beta2", "v1beta1"],
                        "external.metrics.k8s.io": ["v1beta1"]}
    custom = next(i for i in body["items"] if i["metadata"]["name"] == "custom.metrics.k8s.io")["versions"][0]
    resources = {r["resource"]: r for r in custom["resources"]}
    assert resources["namespaces"]["scope"] == "Cluster" and resources["pods"]["scope"] == "Namespaced"
    assert [s["subresource"] for s in resources["deployments.apps"]["subresources"]] == list(METRICS)


def test_openapi_documents_every_group(server):
    root = server.get("/openapi/v3").json()["paths"]
    assert set(root) == {"apis/metrics.smi-spec.io/v1alpha2", "apis/metrics.smi-spec.io/v1alpha1",
                         "apis/custom.metrics.k8s.io/v1beta2",
                         "apis/custom.metrics.k8s.io/v1beta1", "apis/external.metrics.k8s.io/v1beta1"}
    for entry in root.values():
        document = server.get(entry["serverRelativeURL"]).json()
        assert document["openapi"].startswith("3.") and document["paths"]
        schemas = document["components"]["schemas"]
        assert all(ref.removeprefix("#/components/schemas/") in schemas for ref in _refs(document))
    v2 = server.get("/openapi/v2").json()
    assert f"{C2}/namespaces/{{namespace}}/{{resource}}/{{name}}/{{metric}}" in v2["paths"]
    assert f"{E}/namespaces/{{namespace}}/{{metric}}" in v2["paths"]
    assert all(ref.removeprefix("#/definitions/") in v2["definitions"] for ref in _refs(v2))


def _refs(node) -> set[str]:
    if isinstance(node, dict):
        return ({node["$ref"]} if "$ref" in node else set()).union(*map(_refs, node.values()))
    if isinstance(node, list):
        return set().union(*map(_refs, node))
    return set()


def test_own_metrics_are_labelled_by_api_group(server):
    server.get(object_path(C2, Ref("Deployment", "shop", "web"), "request_rate"))
    server.get(f"{E}/namespaces/shop/request_rate")
    text = server.get("/metrics").body.decode()
    template = f"{C2}/namespaces/{{namespace}}/deployments.apps/{{name}}/request_rate"
    assert f'smi_metrics_api_requests_total{{code="200",group="custom.metrics.k8s.io",path="{template}"}}' in text
    assert (f'smi_metrics_api_requests_total{{code="200",group="external.metrics.k8s.io",'
            f'path="{E}/namespaces/{{namespace}}/request_rate"}}') in text


def test_one_pipeline_one_cache(server):
    """An SMI get and the custom, v1beta1 and external gets of the same object and window run the same
    queries: after the first, the others are all fetch-cache hits, no new Prometheus query."""
    def counters() -> dict[str, float]:
        text = server.get("/metrics").body.decode()
        found = dict(re.findall(r'^smi_metrics_api_cache_requests_total\{result="(\w+)"\} (\S+)$', text, re.M))
        return {k: float(v) for k, v in found.items()}

    window = "47s"   # no other test uses it: the first request is cold
    server.get(f"/apis/metrics.smi-spec.io/v1alpha1/namespaces/pay/deployments/gateway?t={window}")
    before = counters()
    ref = Ref("Deployment", "pay", "gateway")
    for path in (object_path(C2, ref, "request_rate"), object_path(C1, ref, "p99_response_latency"),
                 f"{E}/namespaces/pay/success_rate?labelSelector=deployment%3Dgateway%2Cwindow%3D{window}"):
        query = "" if path.startswith(E) else f"?metricLabelSelector=window%3D{window}"
        assert server.get(path + query).status == 200
    after = counters()
    assert after.get("miss", 0) == before.get("miss", 0) and after["hit"] > before["hit"]


def test_apis_are_off_by_default(api_server):
    plain = api_server(MESH)
    assert [g["name"] for g in plain.get("/apis").json()["groups"]] == ["metrics.smi-spec.io"]
    assert plain.get(object_path(C2, Ref("Deployment", "shop", "web"), "request_rate")).status == 404
    assert plain.get(C2).status == 404 and plain.get(f"{E}/namespaces/shop/request_rate").status == 404
