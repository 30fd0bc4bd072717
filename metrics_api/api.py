"""The request pipeline: Target → plan → fetch → normalize → render. No HTTP in here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from . import GROUP
from .errors import bad_request, not_found
from .fetcher import Fetcher
from .normalize import Ref, Row, normalize
from .packs import Pack
from .planner import RESOURCE, plan, plan_existence
from .target import Target


@dataclass(frozen=True)
class Answer:
    """What a request measured, before rendering: the server picks JSON or a Table from the Accept header."""
    target: Target
    rows: list[Row]      # a get: exactly one row; a list or an edge list: every item, sorted
    at: float            # evaluation time (unix seconds)
    path: str            # the request path (a list's selfLink)
    root: Ref | None     # an edge list: the measured object; otherwise None

    @property
    def is_object(self) -> bool:
        return self.target.name is not None and not self.target.edges


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

    async def answer(self, target: Target, path: str) -> Answer:
        if target.label_selector is not None and self.workloads is None:
            raise bad_request("labelSelector needs the workloads' labels from the Kubernetes API, "
                              "which --local mode does not use")
        at = self.fetcher.evaluation_time()
        rows = await self._rows(target, at, existence=False)
        if target.name is None and not target.edges:
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
        planned = plan_existence(self.pack, target) if existence else plan(self.pack, target)
        results = await self.fetcher.fetch([q.promql for q in planned], at, self.budget)
        rows = normalize(self.pack, planned, results)
        return await self.workloads.refine(target, rows) if self.workloads is not None else rows

    async def _idle(self, target: Target) -> Row:
        """An object without series that the cluster has: zeros. Otherwise 404."""
        found = await self.workloads.find(target) if self.workloads is not None else None
        if found is None:
            raise self._unknown(target)
        return Row(found, RESOURCE, None)

    @staticmethod
    def _unknown(target: Target):
        return not_found(f'{target.plural}.{GROUP} "{target.name}" not found',
                         name=target.name or "", group=GROUP, kind=target.plural)


def _first_kind(target: Target, rows: list[Row]) -> list[Row] | None:
    """The rows of the first requested kind that has any (a name shared by several kinds resolves
    in the order Deployment, StatefulSet, DaemonSet, Job)."""
    for kind in target.kinds:
        found = [row for row in rows if row.resource.kind == kind.name]
        if found:
            return found
    return None

