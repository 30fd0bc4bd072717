"""The request pipeline: Target → plan → fetch → normalize → render. No HTTP in here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from metrics_api.core.errors import bad_request, not_found
from metrics_api.core.model import Answer, Direction, Ref, Row, Target
from metrics_api.kube.fields import parse_field_selector
from metrics_api.packs.model import Pack
from metrics_api.pipeline.fetch import Fetcher
from metrics_api.pipeline.normalize import normalize
from metrics_api.pipeline.plan import NOTHING_RECORDED, plan, plan_existence
from metrics_api.pipeline.recordings import Recordings


class Workloads(Protocol):
    """The cluster's view of the objects (kube.workloads.WorkloadLookup); absent in --local mode."""

    async def refine(self, target: Target, rows: list[Row]) -> list[Row]:
        """`rows` with real kinds and, for a list with a labelSelector, only the matching objects."""

    async def find(self, target: Target) -> Ref | None:
        """The requested object if the cluster has it."""


@dataclass
class MetricsApi:
    pack: Pack
    fetcher: Fetcher
    budget: float   # seconds a request may spend waiting for Prometheus
    workloads: Workloads | None = None
    recordings: Recordings | None = None   # recording rules the store holds (None: never used)

    async def answer(self, target: Target, path: str, at: float) -> Answer:
        """The rows `target` names, measured at the evaluation instant `at`."""
        if target.label_selector is not None and self.workloads is None:
            raise bad_request("labelSelector needs the workloads' labels from the Kubernetes API, "
                              "which --local mode does not use")
        rows = await self._rows(target, at, existence=False)
        if target.name is None and not target.edges:
            if target.field_selector is not None:
                fields = parse_field_selector(target.field_selector)
                rows = [row for row in rows if fields.matches(row.resource)]
            return Answer(target, rows, at, path, root=None)
        if not target.edges:
            row = _first_kind(target, rows) or [await self._idle(target)]
            return Answer(target, row[:1], at, path, root=None)
        if rows:
            edges = _first_kind(target, rows)
            root = edges[0].resource
        else:
            known = _first_kind(target, await self._rows(target, at, existence=True)) or [await self._idle(target)]
            edges, root = [], known[0].resource
        return Answer(target, edges, at, path, root=root)

    async def _rows(self, target: Target, at: float, existence: bool) -> list[Row]:
        recorded = await self.recordings.available() if self.recordings is not None else NOTHING_RECORDED
        planned = (plan_existence if existence else plan)(self.pack, target, recorded)
        results = await self.fetcher.fetch([q.promql for q in planned], at, self.budget)
        rows = normalize(self.pack, planned, results)
        return await self.workloads.refine(target, rows) if self.workloads is not None else rows

    async def _idle(self, target: Target) -> Row:
        """An object without series that the cluster has: zeros. Otherwise 404."""
        found = await self.workloads.find(target) if self.workloads is not None else None
        if found is None:
            raise self._unknown(target)
        return Row(found, Direction.RESOURCE, None)

    @staticmethod
    def _unknown(target: Target):
        qualified = f"{target.plural}.{target.group}" if target.group else target.plural   # core kinds: `pods`
        return not_found(f'{qualified} "{target.name}" not found',
                         name=target.name or "", group=target.group, kind=target.plural)


def _first_kind(target: Target, rows: list[Row]) -> list[Row] | None:
    """The rows of the first requested kind that has any (a name shared by several kinds resolves
    in the order Deployment, StatefulSet, DaemonSet, Job)."""
    for kind in target.kinds:
        found = [row for row in rows if row.resource.kind == kind.name]
        if found:
            return found
    return None

