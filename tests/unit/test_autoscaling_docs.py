"""Every manifest in docs/autoscaling.md is valid and asks what the server serves: built-in kinds against
Kubernetes' OpenAPI schemas (kubernetes-validate, strict), CRD kinds against the fields of their CRDs, and
the HPA metrics, Flagger queries and KEDA URL routed through the server's own routers."""
from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import pytest
import yaml

from metrics_api.apis.external_metrics.api import ExternalMetricsApi
from metrics_api.apis.metric_values import Metric
from metrics_api.apis.smi import V1ALPHA1
from metrics_api.apis.smi.api import SmiApi
from metrics_api.apis.smi.render import render_json
from metrics_api.core.model import Answer, Direction, Ref, Row
from tests.support.catalog import packs

DOC = Path(__file__).resolve().parents[2] / "docs" / "autoscaling.md"
K8S_VERSIONS = ("1.28", "1.32")
# The spec fields the documented CRD objects may use, each checked against the CRD's openAPIV3Schema:
# fluxcd/flagger artifacts/flagger/crd.yaml (15bd6ad, flagger.app/v1beta1) and kedacore/keda
# config/crd/bases/keda.sh_{scaledobjects,triggerauthentications}.yaml (8b4f083, keda.sh/v1alpha1).
# A ScaledObject trigger's `metadata` is a string map read by the scaler: its keys are the metrics-api
# scaler's (pkg/scalers/metrics_api_scaler.go, pkg/scalers/authentication/authentication_types.go).
CRD_FIELDS = {
    ("flagger.app/v1beta1", "MetricTemplate"): {"spec.provider", "spec.provider.type", "spec.provider.address",
                                                "spec.provider.secretRef", "spec.provider.secretRef.name",
                                                "spec.provider.insecureSkipVerify", "spec.query"},
    ("flagger.app/v1beta1", "Canary"): {
        "spec.provider", "spec.targetRef", "spec.targetRef.apiVersion", "spec.targetRef.kind", "spec.targetRef.name",
        "spec.service", "spec.service.port", "spec.analysis", "spec.analysis.interval", "spec.analysis.threshold",
        "spec.analysis.maxWeight", "spec.analysis.stepWeight", "spec.analysis.metrics", "spec.analysis.metrics[].name",
        "spec.analysis.metrics[].interval", "spec.analysis.metrics[].templateRef",
        "spec.analysis.metrics[].templateRef.name", "spec.analysis.metrics[].templateRef.namespace",
        "spec.analysis.metrics[].thresholdRange", "spec.analysis.metrics[].thresholdRange.min",
        "spec.analysis.metrics[].thresholdRange.max"},
    ("keda.sh/v1alpha1", "TriggerAuthentication"): {
        "spec.boundServiceAccountToken", "spec.boundServiceAccountToken[].parameter",
        "spec.boundServiceAccountToken[].serviceAccountName", "spec.configMapTargetRef",
        "spec.configMapTargetRef[].parameter", "spec.configMapTargetRef[].name", "spec.configMapTargetRef[].key"},
    ("keda.sh/v1alpha1", "ScaledObject"): {
        "spec.scaleTargetRef", "spec.scaleTargetRef.name", "spec.minReplicaCount", "spec.maxReplicaCount",
        "spec.triggers", "spec.triggers[].type", "spec.triggers[].metricType", "spec.triggers[].metadata",
        "spec.triggers[].authenticationRef", "spec.triggers[].authenticationRef.name"},
}
CRD_REQUIRED = {
    ("flagger.app/v1beta1", "MetricTemplate"): ("spec.provider.type", "spec.query"),
    ("flagger.app/v1beta1", "Canary"): ("spec.targetRef", "spec.analysis"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"): (),
    ("keda.sh/v1alpha1", "ScaledObject"): ("spec.scaleTargetRef.name", "spec.triggers"),
}
METRICS_API_METADATA = {"url", "format", "valueLocation", "targetValue", "activationTargetValue", "unsafeSsl",
                        "authMode", "authModes", "timeout", "aggregationType"}


def manifests() -> list[dict]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    return [doc for block in blocks for doc in yaml.safe_load_all(block) if doc]


def of_kind(kind: str) -> list[dict]:
    return [doc for doc in manifests() if doc["kind"] == kind]


def field_paths(node, prefix: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            found.add(path)
            if not path.endswith("triggers[].metadata"):   # a free string map: checked separately
                found |= field_paths(value, path)
    elif isinstance(node, list):
        for value in node:
            found |= field_paths(value, prefix + "[]")
    return found


def has(doc: dict, path: str) -> bool:
    node = doc
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def test_every_documented_kind_is_checked():
    kinds = {(doc["apiVersion"], doc["kind"]) for doc in manifests()}
    assert ("autoscaling/v2", "HorizontalPodAutoscaler") in kinds
    assert set(CRD_FIELDS) <= kinds


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_built_in_kinds_match_the_kubernetes_schemas(version):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    checked = 0
    for doc in manifests():
        if (doc["apiVersion"], doc["kind"]) in CRD_FIELDS or doc["kind"] == "Kustomization":
            continue
        kubernetes_validate.validate(doc, version, strict=True)
        checked += 1
    assert checked >= 7   # 2 HPAs, ServiceAccount, Role, 2 RoleBindings, ClusterRoleBinding


def test_crd_objects_use_only_fields_of_their_crds():
    for doc in manifests():
        key = (doc["apiVersion"], doc["kind"])
        if key not in CRD_FIELDS:
            continue
        unknown = field_paths(doc["spec"], "spec") - CRD_FIELDS[key]
        assert not unknown, f"{doc['kind']}/{doc['metadata']['name']}: {sorted(unknown)}"
        assert all(has(doc, path) for path in CRD_REQUIRED[key]), doc["metadata"]["name"]
        assert doc["metadata"]["namespace"] == "shop"


def test_hpas_ask_for_served_metrics_and_windows():
    hpas = of_kind("HorizontalPodAutoscaler")
    assert {m["type"] for hpa in hpas for m in hpa["spec"]["metrics"]} == {"Pods", "Object"}
    for hpa in hpas:
        for spec in hpa["spec"]["metrics"]:
            source = spec[spec["type"].lower()]
            Metric(source["metric"]["name"])
            assert set(source["metric"].get("selector", {}).get("matchLabels", {})) <= {"window"}
            assert source["target"]["type"] == "AverageValue"


def test_flagger_queries_route_to_the_external_api():
    api = ExternalMetricsApi(packs.load("linkerd"))
    templates = of_kind("MetricTemplate")
    assert {t["spec"]["provider"]["type"] for t in templates} == {"externalmetrics"}
    for template in templates:
        # Flagger's template variables, then its parser (pkg/metrics/providers/externalmetrics.go).
        query = template["spec"]["query"].replace("{{ namespace }}", "shop").replace("{{ target }}", "web") \
            .replace("{{ interval }}", "1m")
        parsed = urllib.parse.urlsplit("dummy:///" + query)
        namespace, metric = parsed.path.lstrip("/").split("/")
        selector = urllib.parse.parse_qs(parsed.query)["labelSelector"][0]
        route = api.route(f"{api.prefix}/namespaces/{namespace}/{metric}", {"labelSelector": selector})
        assert (route.target.name, route.target.kinds[0].name, route.target.window) == ("web", "Deployment", 60.0)
    canary = of_kind("Canary")[0]
    thresholds = {m["templateRef"]["name"]: m["thresholdRange"] for m in canary["spec"]["analysis"]["metrics"]}
    assert thresholds == {"smi-success-rate": {"min": 0.99}, "smi-p99-latency": {"max": 500}}


def test_keda_scaled_object_reads_request_rate_from_the_smi_path():
    [scaled] = of_kind("ScaledObject")
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "metrics-api" and set(trigger["metadata"]) <= METRICS_API_METADATA
    [auth] = of_kind("TriggerAuthentication")
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    [token] = auth["spec"]["boundServiceAccountToken"]
    assert token["parameter"] == "token" and trigger["metadata"]["authMode"] == "bearer"
    assert token["serviceAccountName"] in {sa["metadata"]["name"] for sa in of_kind("ServiceAccount")}
    url = urllib.parse.urlsplit(trigger["metadata"]["url"])
    assert (url.scheme, url.hostname) == ("https", "kubernetes.default.svc")
    route = SmiApi(packs.load("linkerd"), V1ALPHA1, splits=False).route(url.path, dict(urllib.parse.parse_qsl(url.query)))
    # GJSON `metrics.#(name=="request_rate").value` on the object this path answers.
    match = re.fullmatch(r'metrics\.#\(name=="(\w+)"\)\.value', trigger["metadata"]["valueLocation"])
    assert match
    row = Row(Ref("shop", "web", "Deployment"), Direction.RESOURCE, None, success=2754.0, failure=6.0)
    body = yaml.safe_load(render_json(Answer(route.target, [row], 0.0, url.path, None)))
    [value] = [m["value"] for m in body["metrics"] if m["name"] == match.group(1)]
    assert value == "46"   # (2754 + 6) / 60 s, as a quantity KEDA parses
