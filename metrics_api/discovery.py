"""Discovery documents, built once per pack and served pre-serialized."""
from __future__ import annotations

import orjson

from . import GROUP, GROUP_VERSION, VERSION
from .kinds import TRAFFICMETRICS, WORKLOAD_KINDS
from .packs import Pack


def resource_list(pack: Pack) -> dict:
    resources = []
    for plural, support in pack.kinds.items():
        kind = support.kind
        resources.append(_resource(plural, kind.singular, kind.namespaced, ["get", "list"]))
        if support.edges:
            resources.append(_resource(f"{plural}/edges", "", kind.namespaced, ["get"]))
    if any(pack.support(k.plural) for k in WORKLOAD_KINDS):
        resources.append(_resource(TRAFFICMETRICS, "trafficmetrics", True, ["get", "list"]))
        if any(pack.support(k.plural).edges for k in WORKLOAD_KINDS if pack.support(k.plural)):
            resources.append(_resource(f"{TRAFFICMETRICS}/edges", "", True, ["get"]))
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION, "resources": resources}


def _resource(name: str, singular: str, namespaced: bool, verbs: list[str]) -> dict:
    # An edges subresource answers a list of the resource's edges.
    kind = "TrafficMetricsList" if name.endswith("/edges") else "TrafficMetrics"
    return {"name": name, "singularName": singular, "namespaced": namespaced, "kind": kind, "verbs": verbs}


def api_group() -> dict:
    version = {"groupVersion": GROUP_VERSION, "version": VERSION}
    return {"kind": "APIGroup", "apiVersion": "v1", "name": GROUP, "versions": [version],
            "preferredVersion": version}


def api_group_list() -> dict:
    group = api_group()
    del group["kind"], group["apiVersion"]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]}


class Documents:
    """The three discovery bodies as bytes: answering a probe costs one dict lookup."""

    def __init__(self, pack: Pack) -> None:
        self.resource_list = orjson.dumps(resource_list(pack))
        self.api_group = orjson.dumps(api_group())
        self.api_group_list = orjson.dumps(api_group_list())
