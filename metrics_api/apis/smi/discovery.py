"""Discovery documents, built once per pack and served pre-serialized."""
from __future__ import annotations

import orjson

from metrics_api.apis.smi import GROUP, V1ALPHA1, VERSIONS, ApiVersion
from metrics_api.core.kinds import SPLIT_KINDS, TRAFFICMETRICS, WORKLOAD_KINDS
from metrics_api.http.document import Document
from metrics_api.http.media import parse_accept
from metrics_api.packs.model import Pack

DISCOVERY_GROUP = "apidiscovery.k8s.io"
DISCOVERY_LIST = "APIGroupDiscoveryList"
DISCOVERY_V2 = f"application/json;g={DISCOVERY_GROUP};v=v2;as={DISCOVERY_LIST}"


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


def api_group() -> dict:
    versions = [{"groupVersion": v.group_version, "version": v.name} for v in VERSIONS]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": GROUP, "versions": versions,
            "preferredVersion": versions[0]}


def api_group_list() -> dict:
    group = api_group()
    del group["kind"], group["apiVersion"]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]}


def api_group_discovery_list(pack: Pack, splits: bool = False) -> dict:
    """Aggregated discovery v2 (`GET /apis` as APIGroupDiscoveryList), converted from the APIResourceLists
    the way the aggregator converts them: `a/b` entries become subresources of `a`, every responseKind set."""
    versions = [_discovery_version(pack, version, splits) for version in VERSIONS]
    return {"kind": DISCOVERY_LIST, "apiVersion": f"{DISCOVERY_GROUP}/v2", "metadata": {},
            "items": [{"metadata": {"name": GROUP}, "versions": versions}]}


def _discovery_version(pack: Pack, version: ApiVersion, splits: bool) -> dict:
    resources: dict[str, dict] = {}
    for entry in resource_list(pack, version, splits)["resources"]:
        parent, _, subresource = entry["name"].partition("/")
        response_kind = {"group": GROUP, "version": version.name, "kind": entry["kind"]}
        if subresource:
            resources[parent]["subresources"].append(
                {"subresource": subresource, "responseKind": response_kind, "verbs": entry["verbs"]})
        else:
            resources[parent] = {"resource": parent, "responseKind": response_kind,
                                 "scope": "Namespaced" if entry["namespaced"] else "Cluster",
                                 "singularResource": entry["singularName"], "verbs": entry["verbs"],
                                 "subresources": []}
    return {"version": version.name, "resources": list(resources.values()), "freshness": "Current"}


def wants_aggregated_discovery(accept: str | None) -> bool:
    """Whether the most preferred range we can serve for `/apis` is the v2 APIGroupDiscoveryList."""
    for media in parse_accept(accept):
        if media.names(DISCOVERY_LIST, DISCOVERY_GROUP, ("v2",)):
            return True
        if media.is_json and "as" not in media.params:
            return False
    return False


class Documents:
    """The discovery bodies, serialized once: answering a probe costs one dict lookup."""

    def __init__(self, pack: Pack, splits: bool = False) -> None:
        self.resource_lists = {v.prefix: orjson.dumps(resource_list(pack, v, splits)) for v in VERSIONS}
        self.resource_list = self.resource_lists[V1ALPHA1.prefix]
        self.api_group = orjson.dumps(api_group())
        self.api_group_list = orjson.dumps(api_group_list())
        self.api_group_discovery_list = Document.of(api_group_discovery_list(pack, splits), DISCOVERY_V2)
