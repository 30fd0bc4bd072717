"""The autoscaling metrics APIs in cluster mode, on the Kubernetes stand-in (tests/support/kube_stub.py)
and the session's real Prometheus: HPA's `Pods` request (`pods/*` with the scale target's selector),
the SubjectAccessReview attributes kube-apiserver's request-info parser gives these paths
(k8s.io/apiserver pkg/endpoints/request/requestinfo.go), and denial before any cached value."""
from __future__ import annotations

import pytest

from tests.e2e.test_autoscaling import C1, C2, FLAGS, HPA_ACCEPT, MESH, E, assert_value
from tests.e2e.test_kube import (  # noqa: F401 (fixtures)
    Client,
    as_user,
    cluster_server,
    fresh_user,
    proxy_cert,
    stub,
)
from tests.support import truth
from tests.support.truth import Ref


@pytest.fixture(scope="module")
def proxy(cluster_server, proxy_cert):  # noqa: F811
    """kube-apiserver's aggregator (front-proxy client certificate) in front of a server with both APIs."""
    client = Client(cluster_server(MESH, *FLAGS), proxy_cert)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def allow_everything(stub):  # noqa: F811
    stub.policy = lambda spec: True
    yield


@pytest.mark.parametrize("workload", [("shop", "web"), ("shop", "db"), ("ops", "agent")])
def test_hpa_pods_metric_is_one_item_per_selected_pod(proxy, scenario, workload):
    """HPA's GetRawMetric: GetForObjects(Pod, <scale target selector>, metric, <metric selector>)."""
    namespace, name = workload
    pods = scenario.workload(namespace, name).pods
    path = f"{C2}/namespaces/{namespace}/pods/*/request_rate?labelSelector=app%3D{name}&metricLabelSelector=window%3D5m"
    code, body = proxy.get(path, as_user(fresh_user("hpa")) + [("Accept", HPA_ACCEPT)])
    assert code == 200, body
    got = {item["describedObject"]["name"]: item for item in body["items"]}
    assert sorted(got) == sorted(pods)
    for pod in pods:
        item = got[pod]
        assert item["describedObject"] == {"kind": "Pod", "namespace": namespace, "name": pod, "apiVersion": "v1"}
        assert item["windowSeconds"] == 300
        want = truth.resource_metrics(scenario, MESH, Ref("Pod", namespace, pod), 300).request_rate
        assert_value(item["value"], want, pod)


def test_a_quiet_object_the_cluster_knows_is_zero_and_one_nobody_knows_is_404(proxy):
    """QUIET (test_kube) is a StatefulSet the stand-in has and the mesh never saw."""
    user = as_user(fresh_user("hpa"))
    code, body = proxy.get(f"{C2}/namespaces/shop/statefulsets.apps/quiet/request_rate", user)
    assert code == 200 and [i["value"] for i in body["items"]] == ["0"]
    code, body = proxy.get(f"{C2}/namespaces/shop/statefulsets.apps/quiet/success_rate", user)
    assert code == 404 and "no value" in body["message"]
    code, body = proxy.get(f"{C2}/namespaces/shop/statefulsets.apps/ghost/request_rate", user)
    assert (code, body["message"]) == (404, 'statefulsets.apps "ghost" not found')


def resource(verb, group, version, resource, namespace="", name="", subresource=""):
    fields = {"namespace": namespace, "verb": verb, "group": group, "version": version, "resource": resource,
              "subresource": subresource, "name": name}
    return {"resourceAttributes": {k: v for k, v in fields.items() if v}}


CUSTOM, EXTERNAL = "custom.metrics.k8s.io", "external.metrics.k8s.io"
# Each path → the attributes kube-apiserver's RequestInfoFactory gives it: `namespaces/{ns}/{resource}/{name}/
# {metric}` is resource/name/subresource with verb get (a name, even `*`, keeps get); `namespaces/{ns}/metrics/
# {metric}` is resource "metrics" named {metric}; external `namespaces/{ns}/{metric}` has no name: list.
ATTRIBUTES = {
    f"{C2}/namespaces/shop/deployments.apps/web/request_rate":
        resource("get", CUSTOM, "v1beta2", "deployments.apps", "shop", "web", "request_rate"),
    f"{C1}/namespaces/shop/deployments.apps/web/request_rate?metricLabelSelector=window%3D5m":
        resource("get", CUSTOM, "v1beta1", "deployments.apps", "shop", "web", "request_rate"),
    f"{C2}/namespaces/shop/pods/*/p99_response_latency?labelSelector=app%3Dweb":
        resource("get", CUSTOM, "v1beta2", "pods", "shop", "*", "p99_response_latency"),
    f"{C2}/namespaces/shop/metrics/request_rate":
        resource("get", CUSTOM, "v1beta2", "metrics", "shop", "request_rate"),
    f"{E}/namespaces/shop/success_rate?labelSelector=deployment%3Dweb%2Cwindow%3D1m":
        resource("list", EXTERNAL, "v1beta1", "success_rate", "shop"),
    C2: {"nonResourceAttributes": {"path": C2, "verb": "get"}},
    f"/apis/{CUSTOM}": {"nonResourceAttributes": {"path": f"/apis/{CUSTOM}", "verb": "get"}},
    E: {"nonResourceAttributes": {"path": E, "verb": "get"}},
}


@pytest.mark.parametrize("request_path", ATTRIBUTES)
def test_subject_access_review_attributes(proxy, stub, request_path):  # noqa: F811
    stub.subject_access_reviews.clear()
    code, body = proxy.get(request_path, as_user(fresh_user("matrix")))
    assert code == 200, body
    [spec] = stub.subject_access_reviews
    assert {k: v for k, v in spec.items() if k not in ("user", "groups")} == ATTRIBUTES[request_path]


@pytest.mark.parametrize("path, message", [
    (f"{C2}/namespaces/shop/deployments.apps/web/request_rate",
     '{} is forbidden: User "{}" cannot get resource "deployments.apps/request_rate" in API group '
     f'"{CUSTOM}" in the namespace "shop"'),
    (f"{E}/namespaces/shop/request_rate?labelSelector=deployment%3Dweb",
     '{} is forbidden: User "{}" cannot list resource "request_rate" in API group '
     f'"{EXTERNAL}" in the namespace "shop"'),
])
def test_denied_user_never_sees_a_cached_value(proxy, stub, path, message):  # noqa: F811
    allowed, denied = fresh_user("hpa"), fresh_user("mallory")
    stub.policy = lambda spec: spec["user"] != denied
    code, warm = proxy.get(path, as_user(allowed))
    assert code == 200 and warm["items"], "the allowed user warms the caches"
    code, body = proxy.get(path, as_user(denied))
    subject = "deployments.apps.custom.metrics.k8s.io \"web\"" if path.startswith(C2) else \
        f"request_rate.{EXTERNAL}"
    assert (code, body["reason"], body["message"]) == (403, "Forbidden", message.format(subject, denied))
    assert "items" not in body


def test_generated_ca_goes_into_every_served_apiservice(cluster_server, stub):  # noqa: F811
    """--write-ca-bundle with both APIs: the two SMI and the three autoscaling APIServices trust the same CA."""
    cluster_server(MESH, *FLAGS, "--write-ca-bundle")
    bundles = {name: apiservice["spec"].get("caBundle") for name, apiservice in stub.apiservices.items()}
    assert set(bundles) == {"v1alpha1.metrics.smi-spec.io", "v1alpha2.metrics.smi-spec.io", "v1beta2.custom.metrics.k8s.io",
                            "v1beta1.custom.metrics.k8s.io", "v1beta1.external.metrics.k8s.io"}
    assert all(bundles.values()) and len(set(bundles.values())) == 1, bundles
