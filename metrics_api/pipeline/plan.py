"""Plan: turn a Target and a Pack into the PromQL to run. Values enter queries only as literals."""
from __future__ import annotations

from dataclasses import dataclass

from metrics_api.core import promql
from metrics_api.core.kinds import Kind
from metrics_api.core.model import QUANTILES, Direction, Measure, Target
from metrics_api.packs.model import VALUE_MARK, KindSupport, Pack, View


@dataclass(frozen=True)
class PlannedQuery:
    promql: str
    kind: Kind
    direction: Direction
    measure: Measure
    view: View


def plan(pack: Pack, target: Target) -> list[PlannedQuery]:
    queries: list[PlannedQuery] = []
    for support in _supports(pack, target):
        if target.edges:
            for direction, view in support.edges.items():
                queries += _view_queries(pack, view, support.kind, direction, target)
        else:
            queries += _view_queries(pack, support.resource, support.kind, Direction.RESOURCE, target)
            queries += _presence(pack, support, target)
    return queries


def plan_existence(pack: Pack, target: Target) -> list[PlannedQuery]:
    """Whether the resource itself is known, to tell an idle edge list from an unknown resource."""
    queries = []
    for support in _supports(pack, target):
        queries += _view_queries(pack, support.resource, support.kind, Direction.RESOURCE, target, latency=False)
        queries += _presence(pack, support, target)
    return queries


def plan_workload_pods(pack: Pack, window: float) -> list[str]:
    """For --local kind inference: each `workload_pods` declaration's series, by workload and pod."""
    queries = []
    for declaration in pack.workload_pods:
        labels = [declaration.self.namespace or "", declaration.self.name, declaration.pod]
        selector = ", ".join(promql.not_empty(label) for label in labels)
        queries.append(_fill(declaration.source.counts, selector, ", ".join(labels), promql.duration(window),
                             seconds=promql.number(window)))
    return queries


def _presence(pack: Pack, support: KindSupport, target: Target) -> list[PlannedQuery]:
    """A resource that only calls out has no server-side series but is known to the mesh through its
    client-side series: list it, with zero inbound traffic, instead of hiding it."""
    view = support.edges.get(Direction.TO)
    if view is None:
        return []
    counts = _view_queries(pack, View(view.source, view.self), support.kind, Direction.RESOURCE, target, latency=False)[0]
    return [PlannedQuery(counts.promql, counts.kind, Direction.RESOURCE, Measure.PRESENCE, counts.view)]


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


def _view_queries(
    pack: Pack, view: View, kind: Kind, direction: Direction, target: Target, latency: bool = True
) -> list[PlannedQuery]:
    selector = ", ".join(_matchers(pack, view, kind, target))
    labels = view.labels()
    window = promql.duration(target.window)
    counts_by = ", ".join(labels + [pack.status_label])
    latency_by = ", ".join(labels)
    seconds = promql.number(target.window)
    queries = [PlannedQuery(_fill(view.source.counts, selector, counts_by, window, seconds=seconds),
                            kind, direction, Measure.COUNTS, view)]
    if latency and view.self.identifies and view.source.buckets:
        # Rows of pods or Services are added up per workload later: quantiles come from summed buckets.
        queries.append(PlannedQuery(_fill(view.source.buckets, selector, latency_by, window),
                                    kind, direction, Measure.BUCKETS, view))
    elif latency:
        for measure, quantile in QUANTILES.items():
            text = _fill(view.source.latency, selector, latency_by, window, promql.number(quantile))
            queries.append(PlannedQuery(text, kind, direction, measure, view))
    return queries


def _matchers(pack: Pack, view: View, kind: Kind, target: Target) -> list[str]:
    identity = view.self
    matchers = []
    if identity.kind_label:
        matchers.append(promql.equals(identity.kind_label, kind.name))
    if identity.namespace and target.namespace is not None:
        matchers.append(_equals(pack, identity.namespace, target.namespace))
    if target.name is not None and not identity.identifies:
        matchers.append(_equals(pack, identity.name, target.name))
    elif identity.name in pack.derived:
        derived = pack.derived[identity.name]
        matchers.append(promql.matches(derived.source, derived.pattern.replace(VALUE_MARK, ".+")))
    else:
        matchers.append(promql.not_empty(identity.name))
    return matchers


def _equals(pack: Pack, label: str, value: str) -> str:
    """A matcher for `label` holding the name `value`, as the mesh writes it: encoded, and for a
    derived label, as part of the label it is parsed from."""
    written = pack.encode(value)
    derived = pack.derived.get(label)
    if derived is None:
        return promql.equals(label, written)
    return promql.matches(derived.source, derived.pattern.replace(VALUE_MARK, promql.regex_escape(written)))


def _fill(template: str, selector: str, by: str, window: str, quantile: str = "", seconds: str = "") -> str:
    # Only these five placeholders exist (the pack loader rejects any other), and their values are
    # escaped literals, label names from the pack, a range and numbers.
    return (
        template.replace("{{selector}}", selector)
        .replace("{{by}}", by)
        .replace("{{window}}", window)
        .replace("{{quantile}}", quantile)
        .replace("{{seconds}}", seconds)
    )
