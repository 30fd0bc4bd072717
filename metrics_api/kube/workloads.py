"""Prometheus rows checked against the cluster: label selectors on lists, idle objects that exist but
have no series, and the real kind of workloads whose mesh labels do not say it (kind-blind packs)."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from metrics_api.core.errors import ApiError
from metrics_api.core.kinds import BY_NAME, TRAFFICMETRICS, WORKLOAD_KINDS
from metrics_api.core.model import Ref, Row, Target
from metrics_api.kube.client import KubeError
from metrics_api.kube.inventory import Inventory, ObjectKey
from metrics_api.kube.selectors import parse_selector
from metrics_api.packs.model import Pack

log = logging.getLogger("metrics_api.kube")


def kind_blind(pack: Pack) -> bool:
    """Whether the pack reads several workload kinds from the same series (no kind label, as Istio)."""
    views = [(s.resource.source, s.resource.self) for k in WORKLOAD_KINDS if (s := pack.support(k.plural))]
    return len(set(views)) < len(views)


class WorkloadLookup:
    def __init__(self, inventory: Inventory, pack: Pack) -> None:
        self._inventory = inventory
        self._kind_blind = kind_blind(pack)

    async def refine(self, target: Target, rows: list[Row]) -> list[Row]:
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

    async def _real_kinds(self, target: Target, rows: list[Row]) -> list[Row]:
        """Rows of a kind the workload does not have are dropped (or, for `trafficmetrics`, given the real
        kind); peers get their real kind. Workloads the cluster does not know keep the pack's default."""
        try:
            kinds = await self._workload_kinds()
        except KubeError as exc:
            log.warning("workload kinds unavailable, using the pack's default kind: %s", exc)
            return rows
        refined = []
        for row in rows:
            resource = _real(row.resource, kinds)
            if resource != row.resource and target.plural != TRAFFICMETRICS:
                continue
            peer = _real(row.peer, kinds) if row.peer is not None else None
            refined.append(replace(row, resource=resource, peer=peer))
        return refined

    async def _workload_kinds(self) -> dict[ObjectKey, list[str]]:
        kinds: dict[ObjectKey, list[str]] = {}
        listed = await asyncio.gather(*(self._inventory.objects(kind, None) for kind in WORKLOAD_KINDS))
        for kind, objects in zip(WORKLOAD_KINDS, listed):
            for key in objects:
                kinds.setdefault(key, []).append(kind.name)
        return kinds


def _real(ref: Ref, kinds: dict[ObjectKey, list[str]]) -> Ref:
    if not BY_NAME[ref.kind].workload:
        return ref
    real = kinds.get((ref.namespace, ref.name))
    if not real or ref.kind in real:
        return ref
    return replace(ref, kind=real[0])
