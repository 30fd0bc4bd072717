"""Plan: turn a Target and a Pack into the PromQL to run. Values enter queries only as literals."""
from __future__ import annotations

from dataclasses import dataclass

from metrics_api.core import promql
from metrics_api.core.kinds import WORKLOAD_KINDS, Kind
from metrics_api.core.model import Direction, Measure, Target
from metrics_api.packs.model import VALUE_MARK, DerivedLabel, KindSupport, Pack, View, fill
from metrics_api.packs.rules import record_name


@dataclass(frozen=True)
class PlannedQuery:
    promql: str
    kind: Kind
    direction: Direction
    measure: Measure
    view: View
    requested: str | None = None   # the name the request selected the view's own side by, if any


# (source name, window seconds) pairs whose counts and buckets the store holds as recorded series
Recorded = frozenset[tuple[str, float]]
NOTHING_RECORDED: Recorded = frozenset()


def plan(pack: Pack, target: Target, recorded: Recorded = NOTHING_RECORDED) -> list[PlannedQuery]:
    """The queries of a request; views whose source is recorded for the window read the recordings."""
    queries: list[PlannedQuery] = []
    for support in _supports(pack, target):
        if target.edges:
            for direction, view in support.edges.items():
                queries += _view_queries(pack, view, support.kind, direction, target, recorded=recorded)
        else:
            queries += _view_queries(pack, support.resource, support.kind, Direction.RESOURCE, target,
                                     recorded=recorded)
            queries += _presence(pack, support, target, recorded)
    return queries


def plan_existence(pack: Pack, target: Target, recorded: Recorded = NOTHING_RECORDED) -> list[PlannedQuery]:
    """Whether the resource itself is known, to tell an idle edge list from an unknown resource."""
    queries = []
    for support in _supports(pack, target):
        queries += _view_queries(pack, support.resource, support.kind, Direction.RESOURCE, target, latency=False,
                                 recorded=recorded)
        queries += _presence(pack, support, target, recorded)
    return queries


def plan_workload_pods(pack: Pack, window: float) -> list[str]:
    """For --local kind inference: each `workload_pods` declaration's series, by workload and pod."""
    queries = []
    for declaration in pack.workload_pods:
        labels = [declaration.self.namespace or "", declaration.self.name, declaration.pod]
        selector = ", ".join(promql.not_empty(label) for label in labels)
        queries.append(fill(declaration.source.counts, selector, ", ".join(labels), promql.duration(window),
                             seconds=promql.number(window)))
    return queries


def _presence(pack: Pack, support: KindSupport, target: Target, recorded: Recorded) -> list[PlannedQuery]:
    """A resource that only calls out has no server-side series but is known to the mesh through its
    client-side series: list it, with zero inbound traffic, instead of hiding it."""
    view = support.edges.get(Direction.TO)
    if view is None:
        return []
    counts = _view_queries(pack, View(view.source, view.self), support.kind, Direction.RESOURCE, target,
                           latency=False, recorded=recorded)[0]
    return [PlannedQuery(counts.promql, counts.kind, Direction.RESOURCE, Measure.PRESENCE, counts.view, target.name)]


def _supports(pack: Pack, target: Target) -> list[KindSupport]:
    """The pack's support for each requested kind, skipping kinds whose series are the same as an
    earlier kind's (meshes without kind labels): those would repeat every workload under each kind."""
    chosen: list[KindSupport] = []
    for kind in target.kinds:
        support = pack.support(kind.plural)
        if support is None:
            continue
        if any(_same_series(support.resource, earlier.resource) for earlier in chosen):
            continue
        chosen.append(support)
    return chosen


def _same_series(a: View, b: View) -> bool:
    # A kind label in the identity selects each kind's own series.
    return a.source == b.source and a.self == b.self and a.self.kind_label is None


def _view_queries(pack: Pack, view: View, kind: Kind, direction: Direction, target: Target, *,
                  latency: bool = True, recorded: Recorded) -> list[PlannedQuery]:
    uses_recordings = (view.source.name, target.window) in recorded
    selector = ", ".join(_matchers(pack, view, kind, target, uses_recordings))
    labels = view.labels()
    window = promql.duration(target.window)
    counts_by = ", ".join(labels + list(pack.classify.labels))   # never identity labels (pack loader)
    latency_by = ", ".join(labels)
    seconds = promql.number(target.window)
    if uses_recordings:   # the recorded series are per-second rates already grouped by every view label
        counts_name, buckets_name = (record_name(pack, view.source.name, measure, target.window) for measure in
                                     (Measure.COUNTS, Measure.BUCKETS))
        counts = f"sum by ({counts_by}) ({counts_name}{{{selector}}}) * {seconds}"
        buckets = f"sum by (le, {latency_by}) ({buckets_name}{{{selector}}})"
    else:
        counts = fill(view.source.counts, selector, counts_by, window, seconds=seconds)
        buckets = fill(view.source.buckets, selector, latency_by, window)
    queries = [PlannedQuery(counts, kind, direction, Measure.COUNTS, view, target.name)]
    if latency:   # one bucket query: p50/p90/p99 are computed from it (pipeline/quantile.py)
        queries.append(PlannedQuery(buckets, kind, direction, Measure.BUCKETS, view, target.name))
    return queries


def _matchers(pack: Pack, view: View, kind: Kind, target: Target, recorded: bool) -> list[str]:
    """Label matchers for the view's identity. A derived label is selected through the label it is
    parsed from on raw series, and directly on recorded ones (which keep it, not its source)."""
    derived = {} if recorded else pack.derived
    identity = view.self
    matchers = []
    if identity.kind_label and identity.kind_optional and _reads_kindless(pack, kind, target):
        matchers.append(promql.matches(identity.kind_label, promql.regex_escape(kind.name) + "|"))
    elif identity.kind_label:
        matchers.append(promql.equals(identity.kind_label, kind.name))
    if identity.namespace and target.namespace is not None:
        matchers.append(_equals(pack, derived, identity.namespace, target.namespace))
    if target.name is not None and not identity.identifies:   # pods/Services: mapped later
        matchers.append(_equals(pack, derived, identity.name, target.name))
    elif identity.name in derived:
        parsed = derived[identity.name]
        matchers.append(promql.matches(parsed.source, parsed.pattern.replace(VALUE_MARK, ".+")))
    else:
        matchers.append(promql.not_empty(identity.name))
    return matchers


def _reads_kindless(pack: Pack, kind: Kind, target: Target) -> bool:
    """Whether the query for `kind` reads the series that lack the optional kind label. Each such series
    is read once per request, never one workload under two kinds (docs/meshes.md): under the pack's
    first workload kind (Deployment), or, with Kubernetes access and one kind asked, under that kind,
    where the cluster's kinds then drop the workloads of another kind (pipeline/kinds.py with_kinds)."""
    if pack.kinds_from_cluster and len(target.kinds) == 1:
        return True
    return kind == _kind_blind_default(pack)


def _kind_blind_default(pack: Pack) -> Kind | None:
    return next((kind for kind in WORKLOAD_KINDS if pack.support(kind.plural) is not None), None)


def _equals(pack: Pack, derived: dict[str, DerivedLabel], label: str, value: str) -> str:
    """A matcher for `label` holding the name `value`, as the mesh writes it: encoded, and for a
    derived label, as part of the label it is parsed from."""
    written = pack.encode(value)
    parsed = derived.get(label)
    if parsed is None:
        return promql.equals(label, written)
    return promql.matches(parsed.source, parsed.pattern.replace(VALUE_MARK, promql.regex_escape(written)))


def one_of(pack: Pack, label: str, values: list[str]) -> str:
    """A matcher for `label` holding any of the names `values` (encoded; a derived label is matched
    through the label it is parsed from)."""
    written = [promql.regex_escape(pack.encode(value)) for value in values]
    alternation = written[0] if len(written) == 1 else "(?:" + "|".join(written) + ")"
    derived = pack.derived.get(label)
    if derived is None:
        return promql.matches(label, alternation)
    return promql.matches(derived.source, derived.pattern.replace(VALUE_MARK, alternation))
