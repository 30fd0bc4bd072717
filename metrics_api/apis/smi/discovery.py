"""The SMI group's APIResourceList, per pack (the registry builds the cross-group documents from it)."""
from __future__ import annotations

from metrics_api.apis.smi import GROUP_VERSION
from metrics_api.core.kinds import TRAFFICMETRICS, WORKLOAD_KINDS
from metrics_api.packs.model import Pack


def resource_list(pack: Pack) -> dict:
    resources = []
    for plural, support in pack.kinds.items():
        kind = support.kind
        resources.append(_resource(plural, kind.singular, kind.namespaced, ["get", "list"]))
        if support.edges:
            resources.append(_resource(f"{plural}/edges", "", kind.namespaced, ["get"]))
    # Last on purpose: kubectl maps a resource to its kind and the kind back to the LAST resource listed
    # for it; every resource here is a TrafficMetrics, so `kubectl get <any plural>.metrics.smi-spec.io`
    # lands on this one, the whole-mesh table (docs/kubectl.md).
    if any(pack.support(k.plural) for k in WORKLOAD_KINDS):
        resources.append(_resource(TRAFFICMETRICS, "trafficmetrics", True, ["get", "list"]))
        if any(pack.support(k.plural).edges for k in WORKLOAD_KINDS if pack.support(k.plural)):
            resources.append(_resource(f"{TRAFFICMETRICS}/edges", "", True, ["get"]))
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION, "resources": resources}


def _resource(name: str, singular: str, namespaced: bool, verbs: list[str]) -> dict:
    # An edges subresource answers a list of the resource's edges.
    kind = "TrafficMetricsList" if name.endswith("/edges") else "TrafficMetrics"
    return {"name": name, "singularName": singular, "namespaced": namespaced, "kind": kind, "verbs": verbs}
