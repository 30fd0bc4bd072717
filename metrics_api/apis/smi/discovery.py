"""The SMI group's APIResourceList, per pack (the registry builds the cross-group documents from it)."""
from __future__ import annotations

from metrics_api.apis.smi import V1ALPHA1, ApiVersion
from metrics_api.core.kinds import SPLIT_KINDS, TRAFFICMETRICS, WORKLOAD_KINDS
from metrics_api.packs.model import Pack

# kubectl maps a plural to its kind and the kind back to the last plural listed for it (see below), so the
# split plurals get kinds of their own: with TrafficMetrics, `kubectl get trafficsplits.metrics.smi-spec.io`
# would land on `trafficmetrics`. Their answers are TrafficMetricsLists of TrafficMetrics items (CONTRACT §6).
SPLIT_DISCOVERY_KINDS = {"trafficsplits": "TrafficSplitMetrics", "httproutes": "HTTPRouteMetrics"}


def resource_list(pack: Pack, version: ApiVersion = V1ALPHA1, splits: bool = False) -> dict:
    """`splits`: whether trafficsplits/httproutes are served (v1alpha2, a pack that observes backends,
    split objects readable)."""
    resources = []
    for plural, support in pack.kinds.items():
        kind = support.kind
        resources.append(_resource(plural, kind.singular, kind.namespaced, ["get", "list"]))
        if support.edges:
            resources.append(_resource(f"{plural}/edges", "", kind.namespaced, ["get"]))
    if version.sides and splits:
        for kind in SPLIT_KINDS:
            resources.append(_resource(kind.plural, kind.singular, True, ["get", "list"],
                                       SPLIT_DISCOVERY_KINDS[kind.plural]))
    # Last on purpose: kubectl maps a resource to its kind and the kind back to the LAST resource listed
    # for it; every resource here is a TrafficMetrics, so `kubectl get <any plural>.metrics.smi-spec.io`
    # lands on this one, the whole-mesh table (docs/kubectl.md).
    if any(pack.support(k.plural) for k in WORKLOAD_KINDS):
        resources.append(_resource(TRAFFICMETRICS, "trafficmetrics", True, ["get", "list"]))
        if any(pack.support(k.plural).edges for k in WORKLOAD_KINDS if pack.support(k.plural)):
            resources.append(_resource(f"{TRAFFICMETRICS}/edges", "", True, ["get"]))
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": version.group_version,
            "resources": resources}


def _resource(name: str, singular: str, namespaced: bool, verbs: list[str], kind: str = "") -> dict:
    # An edges subresource answers a list of the resource's edges.
    kind = kind or ("TrafficMetricsList" if name.endswith("/edges") else "TrafficMetrics")
    return {"name": name, "singularName": singular, "namespaced": namespaced, "kind": kind, "verbs": verbs}
