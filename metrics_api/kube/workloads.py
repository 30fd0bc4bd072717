"""Prometheus rows checked against the cluster: label selectors on lists, idle objects that exist but
have no series, the real kind of workloads whose mesh labels do not say it (kind-blind packs), and rows
of pods or Services given to the workloads that own them (cluster views, `identifies`)."""
from __future__ import annotations

import asyncio
import logging

from metrics_api.core.errors import ApiError
from metrics_api.core.kinds import BY_NAME, WORKLOAD_KINDS
from metrics_api.core.model import Ref, Row, Target
from metrics_api.kube.client import KubeError
from metrics_api.kube.inventory import Inventory, ObjectKey
from metrics_api.kube.owners import Ownership
from metrics_api.kube.selectors import parse_selector
from metrics_api.packs.model import Pack
from metrics_api.pipeline.kinds import kind_blind, through_owners, with_kinds

OWNED_KINDS = frozenset({"Pod", "Service"})   # what Kubernetes maps to the workload owning it

log = logging.getLogger("metrics_api.kube")


class WorkloadLookup:
    def __init__(self, inventory: Inventory, ownership: Ownership, pack: Pack) -> None:
        self._inventory = inventory
        self._ownership = ownership
        self._kind_blind = kind_blind(pack)

    async def refine(self, target: Target, rows: list[Row]) -> list[Row]:
        if _needs_owners(target, rows):
            rows = await self._through_owners(target, rows)
        if self._kind_blind:
            rows = await self._real_kinds(target, rows)
        if target.is_list and target.label_selector is not None:
            rows = await self._selected(target, rows)
        return rows

    async def find(self, target: Target) -> Ref | None:
        """The requested object when the cluster has it (None also when the cluster cannot be asked)."""
        assert target.name is not None
        namespace = target.namespace or ""
        for kind in target.kinds:
            try:
                objects = await self._inventory.objects(kind, target.namespace)
            except KubeError as exc:
                log.warning("cannot look up %s %s/%s: %s", kind.name, namespace, target.name, exc)
                return None
            if (namespace, target.name) in objects:
                return Ref(namespace, target.name, kind.name)
        return None

    async def _selected(self, target: Target, rows: list[Row]) -> list[Row]:
        selector = parse_selector(target.label_selector or "")
        kept = []
        for row in rows:
            try:
                objects = await self._inventory.objects(BY_NAME[row.resource.kind], target.namespace)
            except KubeError as exc:
                raise ApiError(503, f"labelSelector: cannot list {BY_NAME[row.resource.kind].plural} "
                                    f"from the Kubernetes API: {exc}") from None
            labels = objects.get((row.resource.namespace, row.resource.name))
            if labels is not None and selector.matches(labels):
                kept.append(row)
        return kept

    async def _through_owners(self, target: Target, rows: list[Row]) -> list[Row]:
        try:
            owners = await self._ownership.owners()
        except KubeError as exc:
            raise ApiError(503, f"cannot map pods and Services to their workloads: {exc}") from None

        def owner(ref: Ref) -> Ref | None:
            if ref.kind == "Pod":
                return owners.of_pod(ref.namespace, ref.name)
            return owners.behind_service(ref.namespace, ref.name) if ref.kind == "Service" else None

        return through_owners(target, rows, owner)

    async def _real_kinds(self, target: Target, rows: list[Row]) -> list[Row]:
        """Rows re-kinded from the workloads the cluster has (workloads it does not know keep the
        pack's default kind)."""
        try:
            kinds = await self._workload_kinds()
        except KubeError as exc:
            log.warning("workload kinds unavailable, using the pack's default kind: %s", exc)
            return rows
        return with_kinds(target, rows, kinds)

    async def _workload_kinds(self) -> dict[ObjectKey, list[str]]:
        kinds: dict[ObjectKey, list[str]] = {}
        listed = await asyncio.gather(*(self._inventory.objects(kind, None) for kind in WORKLOAD_KINDS))
        for kind, objects in zip(WORKLOAD_KINDS, listed):
            for key in objects:
                kinds.setdefault(key, []).append(kind.name)
        return kinds


def _needs_owners(target: Target, rows: list[Row]) -> bool:
    """Whether some row names a Pod or a Service where the target asks for another kind."""
    asked = {kind.name for kind in target.kinds}
    mapped = OWNED_KINDS - asked
    return any(row.resource.kind in mapped or (row.peer is not None and row.peer.kind in mapped) for row in rows)
