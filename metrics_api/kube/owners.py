"""Which workload each pod belongs to and which workloads are behind each Service, from the Kubernetes
API: Pod → (ReplicaSet →) Deployment, StatefulSet, DaemonSet, Job or bare ReplicaSet by the controller
ownerReference, and Service → its EndpointSlices' pods → their owners. Relisted at most every few
seconds (concurrent relists coalesced); only names are kept, so memory follows the cluster's size."""
from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from metrics_api.core.kinds import WORKLOAD_KINDS
from metrics_api.core.model import Ref
from metrics_api.core.singleflight import CoalescingCache
from metrics_api.kube.client import Kube
from metrics_api.kube.inventory import ObjectKey, list_items

# What a pod's owner chain may end at (a CronJob's Job stays the Job: CronJob is no SMI kind).
OWNER_KINDS = frozenset({k.name for k in WORKLOAD_KINDS} | {"ReplicaSet"})
PODS = "/api/v1/pods"
REPLICASETS = "/apis/apps/v1/replicasets"
# EndpointSlices name their Service in this label (k8s.io/api discovery/v1 LabelServiceName).
ENDPOINTSLICES = "/apis/discovery.k8s.io/v1/endpointslices"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class Owners:
    """One consistent snapshot of the cluster's ownership."""
    pods: dict[ObjectKey, Ref]                  # pod → its workload
    services: dict[ObjectKey, frozenset[Ref]]   # Service → the workloads of its endpoints' pods

    def of_pod(self, namespace: str, name: str) -> Ref | None:
        return self.pods.get((namespace, name))

    def behind_service(self, namespace: str, name: str) -> Ref | None:
        """The one workload behind the Service (None when none or several: its traffic cannot be split)."""
        found = self.services.get((namespace, name), frozenset())
        return next(iter(found)) if len(found) == 1 else None


class Ownership:
    def __init__(self, kube: Kube, ttl: float = 5.0) -> None:
        self._kube = kube
        self._cache: CoalescingCache[Owners] = CoalescingCache(ttl, max_entries=1)

    async def owners(self) -> Owners:
        """KubeError when the API cannot be listed."""
        return await self._cache.get("owners", self._build)

    async def _build(self) -> Owners:
        pods, replicasets, slices = await asyncio.gather(
            _all(list_items(self._kube, PODS)), _all(list_items(self._kube, REPLICASETS)),
            _all(list_items(self._kube, ENDPOINTSLICES)))
        deployment_of = {_key(rs): _controller(rs) for rs in replicasets}
        owners: dict[ObjectKey, Ref] = {}
        for pod in pods:
            owner = _controller(pod)
            if owner is not None and owner.kind == "ReplicaSet":
                owner = deployment_of.get((owner.namespace, owner.name)) or owner   # bare ReplicaSet: itself
            if owner is not None and owner.kind in OWNER_KINDS:
                owners[_key(pod)] = owner
        services: dict[ObjectKey, set[Ref]] = {}
        for endpoint_slice in slices:
            metadata = endpoint_slice.get("metadata") or {}
            service = (metadata.get("labels") or {}).get(SERVICE_NAME_LABEL)
            if not service:
                continue
            behind = services.setdefault((metadata.get("namespace", ""), service), set())
            for endpoint in endpoint_slice.get("endpoints") or ():
                target = endpoint.get("targetRef") or {}
                owner = owners.get((target.get("namespace", ""), target.get("name", ""))) \
                    if target.get("kind") == "Pod" else None
                if owner is not None:
                    behind.add(owner)
        return Owners(owners, {key: frozenset(refs) for key, refs in services.items()})


async def _all(items) -> list[dict[str, Any]]:
    return [item async for item in items]


def _key(item: dict[str, Any]) -> ObjectKey:
    metadata = item.get("metadata") or {}
    return (metadata.get("namespace", ""), metadata.get("name", ""))


def _controller(item: dict[str, Any]) -> Ref | None:
    """The object's managing controller (the ownerReference with `controller: true`)."""
    metadata = item.get("metadata") or {}
    references: Iterable[dict[str, Any]] = metadata.get("ownerReferences") or ()
    for reference in references:
        if reference.get("controller") and reference.get("kind") and reference.get("name"):
            return Ref(metadata.get("namespace", ""), reference["name"], reference["kind"])
    return None
