"""The request pipeline: Target → plan → fetch → normalize → render. No HTTP in here."""
from __future__ import annotations

from dataclasses import dataclass

from . import GROUP
from .errors import not_found
from .fetcher import Fetcher
from .normalize import Row, normalize
from .packs import Pack
from .planner import plan, plan_existence
from .render import render_list, render_object
from .target import Target


@dataclass
class MetricsApi:
    pack: Pack
    fetcher: Fetcher
    budget: float   # seconds a request may spend waiting for Prometheus

    async def answer(self, target: Target, path: str) -> bytes:
        at = self.fetcher.evaluation_time()
        rows = await self._rows(target, at, existence=False)
        if target.name is None and not target.edges:
            return render_list(rows, target, at, path, root=None)
        if not target.edges:
            row = _first_kind(target, rows)
            if row is None:
                raise self._unknown(target)
            return render_object(row[0], target, at)
        if rows:
            edges = _first_kind(target, rows)
            root = edges[0].resource
        else:
            known = _first_kind(target, await self._rows(target, at, existence=True))
            if known is None:
                raise self._unknown(target)
            edges, root = [], known[0].resource
        return render_list(edges, target, at, path, root=root)

    async def _rows(self, target: Target, at: float, existence: bool) -> list[Row]:
        planned = plan_existence(self.pack, target) if existence else plan(self.pack, target)
        results = await self.fetcher.fetch([q.promql for q in planned], at, self.budget)
        return normalize(self.pack, planned, results)

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

