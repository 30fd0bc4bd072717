"""Traffic-split backends (metrics.smi-spec.io v1alpha2 `trafficsplits` and `httproutes`): one row per
backend of each split, measured on the client side for requests to the apex that reached that backend.

The split objects come from a SplitSource (a routes file in --local mode, the Kubernetes API in a
cluster); the numbers from the pack's `backends` view. Backends without traffic are rows of zeros.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from metrics_api.core import promql
from metrics_api.core.errors import not_found
from metrics_api.core.kinds import Kind
from metrics_api.core.model import (
    Answer,
    Backend,
    Direction,
    Measure,
    Ref,
    Row,
    Side,
    Target,
)
from metrics_api.packs.model import BackendView, Pack, fill
from metrics_api.pipeline.fetch import Fetcher
from metrics_api.pipeline.normalize import number
from metrics_api.pipeline.plan import one_of
from metrics_api.pipeline.quantile import parse_le, with_quantiles
from metrics_api.store.prometheus import Series


@dataclass(frozen=True)
class SplitBackend:
    namespace: str
    name: str       # a Service
    weight: int
    measured: bool = True   # False: a reference the route may not use (cross-namespace without a ReferenceGrant)


@dataclass(frozen=True)
class Split:
    """A TrafficSplit, or one parent Service of a GAMMA HTTPRoute, with its backends in spec order."""
    ref: Ref                          # the TrafficSplit or HTTPRoute
    apex: Ref                         # the Service clients address (root / parentRef)
    backends: tuple[SplitBackend, ...]
    clients: str | None = None        # GAMMA consumer route: only clients in this namespace use it


class SplitSource(Protocol):
    """Where split objects come from (kube.routes: a routes file, or the Kubernetes API)."""

    async def splits(self, kind: Kind, namespace: str | None) -> list[Split]:
        """The splits of `kind` in `namespace` (None: every namespace), sorted by namespace and name."""


_Key = tuple[int, str, str]   # (split index, backend namespace, backend name)


@dataclass(frozen=True)
class _Planned:
    promql: str
    split: int              # index into the splits being answered
    measure: Measure


@dataclass
class SplitAnswers:
    pack: Pack
    view: BackendView
    source: SplitSource
    fetcher: Fetcher
    budget: float

    async def answer(self, target: Target, path: str, at: float) -> Answer:
        splits = await self.source.splits(target.kinds[0], target.namespace)
        if target.name is not None:
            splits = [split for split in splits if split.ref.name == target.name]
            if not splits:
                raise not_found(f'{target.plural}.{target.group} "{target.name}" not found',
                                name=target.name, group=target.group, kind=target.plural)
        planned = [query for index, split in enumerate(splits) for query in self._plan(index, split, target.window)]
        results = await self.fetcher.fetch([q.promql for q in planned], at, self.budget)
        measured, buckets = self._measured(planned, results)
        side = self.pack.side(self.view) or Side.CLIENT
        rows = [Row(split.ref, Direction.FROM, None, *measured.get(self._key(index, backend), (0.0, 0.0)),
                    side=side, backend=Backend(split.apex.name, backend.name, backend.weight),
                    buckets=dict(buckets.get(self._key(index, backend), {})))
                for index, split in enumerate(splits) for backend in split.backends]
        with_quantiles(rows, self.pack.latency_scale)
        root = splits[0].ref if target.name is not None else None
        return Answer(target, rows, at, path, root=root)

    def _plan(self, index: int, split: Split, window: float) -> list[_Planned]:
        backends = [backend for backend in split.backends if backend.measured]
        if not backends:
            return []
        view = self.view
        matchers = []
        if view.apex is not None:
            pattern = view.apex.pattern.replace("{name}", promql.regex_escape(self.pack.encode(split.apex.name)))
            pattern = pattern.replace("{namespace}", promql.regex_escape(self.pack.encode(split.apex.namespace)))
            matchers.append(promql.matches(view.apex.label, pattern))
        if split.clients is not None and view.client_namespace:
            matchers.append(promql.equals(view.client_namespace, self.pack.encode(split.clients)))
        if view.backend.namespace:
            matchers.append(one_of(self.pack, view.backend.namespace, sorted({b.namespace for b in backends})))
        matchers.append(one_of(self.pack, view.backend.name, sorted({b.name for b in backends})))
        selector = ", ".join(matchers)
        labels = [label for label in (view.backend.namespace, view.backend.name) if label]
        by, duration = ", ".join(labels), promql.duration(window)
        counts_by = ", ".join([*labels, *self.pack.classify.labels])
        return [_Planned(fill(view.source.counts, selector, counts_by, duration, promql.number(window)), index,
                         Measure.COUNTS),
                _Planned(fill(view.source.buckets, selector, by, duration), index, Measure.BUCKETS)]

    def _measured(self, planned: Sequence[_Planned], results: Sequence[Sequence[Series]]
                  ) -> tuple[dict[_Key, tuple[float, float]], dict[_Key, dict[float, float]]]:
        """_key → (success, failure), and _key → the backend's summed bucket rates (`le` → rate)."""
        counts: dict[_Key, list[float]] = {}
        buckets: dict[_Key, dict[float, float]] = {}
        backend = self.view.backend
        for query, series in zip(planned, results):
            for item in series:
                labels = item["metric"]
                namespace = self.pack.decode(labels.get(backend.namespace, "")) if backend.namespace else ""
                key = (query.split, namespace, self.pack.decode(labels.get(backend.name, "")))
                if query.measure is Measure.COUNTS:
                    counts.setdefault(key, [0.0, 0.0])[self.pack.classify.is_failure(labels)] += number(item)
                elif (bound := parse_le(labels.get("le", ""))) is not None:
                    backend_buckets = buckets.setdefault(key, {})
                    backend_buckets[bound] = backend_buckets.get(bound, 0.0) + number(item)
        return {key: (success, failure) for key, (success, failure) in counts.items()}, buckets

    def _key(self, index: int, backend: SplitBackend) -> _Key:
        """A backend's key in _measured: meshes without a backend namespace label (Consul CE) key by name."""
        return index, backend.namespace if self.view.backend.namespace else "", backend.name
