"""What exists in the cluster: names and labels of the objects of each SMI kind, listed from the
Kubernetes API (paged) and kept a few seconds, concurrent identical lists coalesced."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from metrics_api.core.kinds import Kind
from metrics_api.core.singleflight import CoalescingCache
from metrics_api.kube.client import Kube

# SMI plural → the Kubernetes API group path that lists it.
API_BASES = {
    "namespaces": "/api/v1", "pods": "/api/v1", "services": "/api/v1",
    "deployments": "/apis/apps/v1", "statefulsets": "/apis/apps/v1", "daemonsets": "/apis/apps/v1",
    "replicasets": "/apis/apps/v1", "jobs": "/apis/batch/v1",
}
PAGE = 500

ObjectKey = tuple[str, str]          # (namespace, name); namespace "" for cluster-scoped objects
Labels = dict[str, str]


class Inventory:
    def __init__(self, kube: Kube, ttl: float = 5.0) -> None:
        self._kube = kube
        self.cache: CoalescingCache[dict[ObjectKey, Labels]] = CoalescingCache(ttl, max_entries=1024)

    async def objects(self, kind: Kind, namespace: str | None) -> dict[ObjectKey, Labels]:
        """Every object of `kind` in `namespace` (None: all namespaces) with its labels. KubeError on failure."""
        scope = namespace if kind.namespaced else None
        return await self.cache.get((kind.plural, scope), lambda: self._list(kind, scope))

    async def _list(self, kind: Kind, namespace: str | None) -> dict[ObjectKey, Labels]:
        base = API_BASES[kind.plural]
        path = f"{base}/namespaces/{namespace}/{kind.plural}" if namespace else f"{base}/{kind.plural}"
        found: dict[ObjectKey, Labels] = {}
        async for item in list_items(self._kube, path):
            metadata = item.get("metadata") or {}
            found[(metadata.get("namespace", ""), metadata.get("name", ""))] = metadata.get("labels") or {}
        return found


async def list_items(kube: Kube, path: str) -> AsyncIterator[dict[str, Any]]:
    """Every item of a list path, page by page (`limit`/`continue`). KubeError on failure."""
    page = {"limit": str(PAGE)}
    while True:
        answer = await kube.get(path, **page)
        for item in answer.get("items") or ():
            yield item
        token = (answer.get("metadata") or {}).get("continue")
        if not token:
            return
        page = {"limit": str(PAGE), "continue": token}
