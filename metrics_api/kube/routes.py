"""Traffic splits as the pipeline needs them (pipeline.splits.Split), read from SMI TrafficSplits
(split.smi-spec.io v1alpha1–v1alpha4) and GAMMA HTTPRoutes (gateway.networking.k8s.io v1, v1beta1):
from a routes file in --local mode (what `kubectl get trafficsplits,httproutes -o yaml` prints) or from
the Kubernetes API, relisted at most every few seconds.

Split semantics (smi-spec apis/traffic-split/v1alpha1..v1alpha4/traffic-split.md): `spec.service` is the
root (apex) Service in the split's namespace, `spec.backends[].service` a Service in the same namespace;
v1alpha1 weights are quantities (`500m`), later versions integers.

GAMMA (gateway-api GEP-1426, geps/gep-1426/index.md; GEP-1294): an HTTPRoute is a mesh route when a
parentRef has `kind: Service` (group "" or "core"). A parent Service in the route's own namespace makes a
producer route (every client); in another namespace a consumer route, which applies only to requests from
clients in the route's namespace. backendRefs default to kind Service in the route's namespace with weight
1; a backendRef to another namespace needs a ReferenceGrant in that namespace (gateway-api
apis/v1beta1/referencegrant_types.go), else the reference is refused (ResolvedRefs=False, RefNotPermitted)
and the mesh routes nothing to it: such a backend is listed with zeros.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from metrics_api.core.errors import ApiError
from metrics_api.core.kinds import HTTPROUTE, TRAFFICSPLIT, Kind
from metrics_api.core.model import Ref
from metrics_api.core.quantity import parse_quantity
from metrics_api.pipeline.splits import Split, SplitBackend

log = logging.getLogger("metrics_api.kube")

SPLIT_GROUP = "split.smi-spec.io"
SPLIT_VERSIONS = ("v1alpha4", "v1alpha3", "v1alpha2", "v1alpha1")   # newest first: the one to read
GATEWAY_GROUP = "gateway.networking.k8s.io"
GATEWAY_VERSIONS = ("v1", "v1beta1")
CORE_GROUPS = ("", "core")
RELIST_SECONDS = 5.0


class RoutesError(ValueError):
    """An unusable routes file: the message names the file and the object."""


@dataclass(frozen=True)
class Grant:
    """A ReferenceGrant's permission: HTTPRoutes in `from_namespace` may reference Services in
    `namespace` (all of them when `name` is None)."""
    namespace: str
    from_namespace: str
    name: str | None


@dataclass(frozen=True)
class Objects:
    """The split objects of a cluster or file, parsed."""
    traffic_splits: tuple[Split, ...]
    routes: tuple[dict[str, Any], ...]   # raw HTTPRoutes: their splits depend on the grants
    grants: tuple[Grant, ...]

    def splits(self, kind: Kind, namespace: str | None) -> list[Split]:
        if kind == TRAFFICSPLIT:
            found = list(self.traffic_splits)
        else:
            found = [split for route in self.routes for split in http_route_splits(route, self.grants)]
        return sorted((s for s in found if namespace is None or s.ref.namespace == namespace),
                      key=lambda s: (s.ref.namespace, s.ref.name, s.apex.namespace, s.apex.name))


def parse_objects(items: Iterable[Any], where: str) -> Objects:
    """TrafficSplits, HTTPRoutes and ReferenceGrants out of `items`; other kinds are ignored."""
    splits, routes, grants = [], [], []
    for item in items:
        if not isinstance(item, dict):
            raise RoutesError(f"{where}: every item must be a Kubernetes object")
        group = str(item.get("apiVersion", "")).partition("/")[0]
        kind = item.get("kind")
        if group == SPLIT_GROUP and kind == "TrafficSplit":
            splits.append(traffic_split(item, where))
        elif group == GATEWAY_GROUP and kind == "HTTPRoute":
            _metadata(item, where)
            routes.append(item)
        elif group == GATEWAY_GROUP and kind == "ReferenceGrant":
            grants += reference_grant(item, where)
    return Objects(tuple(splits), tuple(routes), tuple(grants))


def _metadata(item: dict[str, Any], where: str) -> tuple[str, str]:
    metadata = item.get("metadata") or {}
    name, namespace = metadata.get("name"), metadata.get("namespace") or "default"
    if not isinstance(name, str) or not name:
        raise RoutesError(f"{where}: a {item.get('kind')} without metadata.name")
    return namespace, name


def traffic_split(item: dict[str, Any], where: str) -> Split:
    namespace, name = _metadata(item, where)
    spec = item.get("spec") or {}
    context = f"{where}: TrafficSplit {namespace}/{name}"
    apex = spec.get("service")
    if not isinstance(apex, str) or not apex:
        raise RoutesError(f"{context}: spec.service (the root Service) is missing")
    named = []
    for backend in spec.get("backends") or []:
        service = backend.get("service") if isinstance(backend, dict) else None
        if not isinstance(service, str) or not service:
            raise RoutesError(f"{context}: a backend without service")
        try:
            weight = parse_quantity(backend.get("weight", 0))
        except ValueError as exc:
            raise RoutesError(f"{context}: backend {service}: weight: {exc}") from None
        named.append((service, weight))
    weights = integer_weights([weight for _, weight in named])
    backends = tuple(SplitBackend(namespace, service, weight) for (service, _), weight in zip(named, weights))
    return Split(Ref(namespace, name, TRAFFICSPLIT.name), Ref(namespace, apex, "Service"), backends)


def integer_weights(weights: list[Fraction]) -> list[int]:
    """Weights as integers in the same proportions: whole quantities as they are; v1alpha1's fractional
    quantities (`900m`, `100m`) in thousandths (900, 100), which is what a milli-quantity counts."""
    if all(weight.denominator == 1 for weight in weights):
        return [int(weight) for weight in weights]
    return [int(weight * 1000) for weight in weights]


def reference_grant(item: dict[str, Any], where: str) -> list[Grant]:
    namespace, _ = _metadata(item, where)
    spec = item.get("spec") or {}
    sources = [entry.get("namespace") for entry in spec.get("from") or []
               if isinstance(entry, dict) and entry.get("group") == GATEWAY_GROUP and entry.get("kind") == "HTTPRoute"]
    targets = [entry.get("name") for entry in spec.get("to") or []
               if isinstance(entry, dict) and entry.get("group", "") in CORE_GROUPS and entry.get("kind") == "Service"]
    return [Grant(namespace, source, target or None) for source in sources if source for target in targets]


def http_route_splits(item: dict[str, Any], grants: tuple[Grant, ...]) -> list[Split]:
    """One split per Service parentRef (GAMMA); none for a route attached only to Gateways."""
    namespace, name = _metadata(item, "HTTPRoute")
    spec = item.get("spec") or {}
    backends: dict[tuple[str, str], SplitBackend] = {}
    for rule in spec.get("rules") or []:
        for ref in (rule or {}).get("backendRefs") or []:
            backend = _backend_ref(ref, namespace, grants)
            if backend is not None:
                backends.setdefault((backend.namespace, backend.name), backend)
    splits = []
    for parent in spec.get("parentRefs") or []:
        if not isinstance(parent, dict) or parent.get("kind") != "Service" or parent.get("group", "") not in CORE_GROUPS:
            continue
        apex_namespace = parent.get("namespace") or namespace
        clients = namespace if apex_namespace != namespace else None   # a consumer route
        splits.append(Split(Ref(namespace, name, HTTPROUTE.name), Ref(apex_namespace, str(parent.get("name")), "Service"),
                            tuple(backends.values()), clients))
    return splits


def _backend_ref(ref: Any, route_namespace: str, grants: tuple[Grant, ...]) -> SplitBackend | None:
    if not isinstance(ref, dict) or ref.get("kind", "Service") != "Service" or ref.get("group", "") not in CORE_GROUPS:
        return None   # only Service backends carry mesh traffic we can name
    name = str(ref.get("name", ""))
    namespace = ref.get("namespace") or route_namespace
    weight = ref.get("weight", 1)
    permitted = namespace == route_namespace or any(
        grant.namespace == namespace and grant.from_namespace == route_namespace and grant.name in (None, name)
        for grant in grants)
    return SplitBackend(namespace, name, int(weight) if isinstance(weight, int) else 1, measured=permitted)


class RoutesFile:
    """--routes-file: a YAML List (or a stream of objects) read once at start."""

    def __init__(self, path: Path) -> None:
        try:
            documents = list(yaml.safe_load_all(path.read_text()))
        except OSError as exc:
            raise RoutesError(f"{path}: cannot read: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise RoutesError(f"{path}: not valid YAML: {exc}") from None
        items: list[Any] = []
        for document in documents:
            if isinstance(document, dict) and document.get("kind", "").endswith("List"):
                items += document.get("items") or []
            elif document is not None:
                items.append(document)
        self.objects = parse_objects(items, str(path))

    async def splits(self, kind: Kind, namespace: str | None) -> list[Split]:
        return self.objects.splits(kind, namespace)


class ClusterRoutes:
    """The cluster's split objects, relisted when older than RELIST_SECONDS (one list per group at a time,
    shared by concurrent requests). Which split.smi-spec.io and gateway versions the cluster serves is read
    from discovery (`/apis`) at each relist, so installing the CRDs later needs no restart."""

    def __init__(self, kube: Any) -> None:   # kube.client.Kube (not imported: the module loads without it)
        self._kube = kube
        self._objects = Objects((), (), ())
        self._listed_at = -RELIST_SECONDS
        self._lock = asyncio.Lock()

    async def splits(self, kind: Kind, namespace: str | None) -> list[Split]:
        async with self._lock:
            if time.monotonic() - self._listed_at >= RELIST_SECONDS:
                self._objects = await self._list()
                self._listed_at = time.monotonic()
        return self._objects.splits(kind, namespace)

    async def _list(self) -> Objects:
        from metrics_api.kube.client import KubeError

        try:
            served = await self._served_versions()
            items: list[Any] = []
            if split := served.get(SPLIT_GROUP):
                items += (await self._kube.get(f"/apis/{SPLIT_GROUP}/{split}/trafficsplits")).get("items", [])
            if gateway := served.get(GATEWAY_GROUP):
                items += (await self._kube.get(f"/apis/{GATEWAY_GROUP}/{gateway}/httproutes")).get("items", [])
                items += await self._grants()
        except KubeError as exc:
            raise ApiError(503, f"cannot read traffic splits from the Kubernetes API: {exc}") from None
        return parse_objects(items, "the Kubernetes API")

    async def _served_versions(self) -> dict[str, str]:
        """group → the newest version of it the cluster serves, among those we read."""
        groups = (await self._kube.get("/apis")).get("groups", [])
        wanted = {SPLIT_GROUP: SPLIT_VERSIONS, GATEWAY_GROUP: GATEWAY_VERSIONS}
        served = {}
        for group in groups:
            versions = {v.get("version") for v in group.get("versions", [])}
            for candidate in wanted.get(group.get("name"), ()):
                if candidate in versions:
                    served[group["name"]] = candidate
                    break
        return served

    async def _grants(self) -> list[Any]:
        from metrics_api.kube.client import KubeError

        for version in ("v1beta1", "v1"):
            try:
                return (await self._kube.get(f"/apis/{GATEWAY_GROUP}/{version}/referencegrants")).get("items", [])
            except KubeError as exc:
                if exc.status == 403:   # an older ClusterRole: cross-namespace backendRefs then count as refused
                    log.warning("cannot list ReferenceGrants (%s): cross-namespace backendRefs are shown with zeros", exc)
                    return []
                if exc.status != 404:
                    raise
        return []
