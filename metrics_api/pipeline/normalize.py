"""Normalize: Prometheus series → rows of traffic statistics, whatever the mesh. Plain data out."""
from __future__ import annotations

import math
from collections.abc import Sequence

from metrics_api.core.errors import internal
from metrics_api.core.kinds import BY_NAME, Kind
from metrics_api.core.model import Direction, Measure, Ref, Row, Side
from metrics_api.core.quantity import MAX_INT64
from metrics_api.packs.model import KIND_BLIND_PEER, Pack, PeerIdentity
from metrics_api.pipeline.plan import PlannedQuery
from metrics_api.pipeline.quantile import parse_le
from metrics_api.store.prometheus import Series

# Numbers are capped at the int64 range that clients read them into (a Table's integer cells, Go's
# quantities): absurd store values then render as the largest quantity instead of overflowing.
LARGEST = float(MAX_INT64)


def normalize(pack: Pack, planned: Sequence[PlannedQuery], results: Sequence[Sequence[Series]]) -> list[Row]:
    """Rows keyed by (resource, direction, peer). Counts define which rows exist; bucket rates are summed
    into each row's `buckets` (several series of one row, e.g. a workload's pods, add up), and latency
    quantiles are computed from them once rows are final (quantile.with_quantiles); bucket series
    without counts are dropped."""
    rows: dict[tuple, Row] = {}
    for query, series in zip(planned, results):
        if query.measure is Measure.PRESENCE:
            for item in series:
                key = _key(pack, query, item["metric"])
                if key is not None and key not in rows:
                    rows[key] = Row(key[0], Direction.RESOURCE, None, side=resource_side(pack, query.kind))
        elif query.measure is Measure.COUNTS:
            for item in series:
                key = _key(pack, query, item["metric"])
                if key is None:
                    continue
                row = rows.get(key)
                if row is None:
                    row = rows[key] = Row(key[0], query.direction, key[2], side=pack.side(query.view))
                value = number(item)
                if pack.classify.is_failure(item["metric"]):
                    row.failure = min(row.failure + value, LARGEST)
                else:
                    row.success = min(row.success + value, LARGEST)
    for query, series in zip(planned, results):
        if query.measure is Measure.BUCKETS:
            _add_buckets(pack, query, series, rows)
    return sorted(rows.values(), key=lambda r: r.sort_key)


def _add_buckets(pack: Pack, query: PlannedQuery, series: Sequence[Series], rows: dict[tuple, Row]) -> None:
    """Each bucket series' rate added to its row's bucket. A row depends only on the labels other than
    `le`, and a bound only on `le`: both are worked out once per distinct value (a 5,000-pod list has
    130,000 bucket series, 26 per pod; working out each one's row took most of normalize's time)."""
    row_of: dict[tuple, Row | None] = {}
    bound_of: dict[str, float | None] = {}
    for item in series:
        labels = item["metric"]
        identity = tuple(pair for pair in labels.items() if pair[0] != "le")
        try:
            row = row_of[identity]
        except KeyError:
            key = _key(pack, query, labels)
            row = row_of[identity] = rows.get(key) if key else None
        if row is None:
            continue
        le = labels.get("le", "")
        try:
            bound = bound_of[le]
        except KeyError:
            bound = bound_of[le] = parse_le(le)
        if bound is not None:   # Prometheus skips a series whose `le` is no number
            row.buckets[bound] = row.buckets.get(bound, 0.0) + number(item)


def resource_side(pack: Pack, kind: Kind) -> Side | None:
    """The proxy side that reports a resource's own numbers (zeros of an idle resource included)."""
    support = pack.support(kind.plural)
    return pack.side(support.resource) if support else None


def number(item: Series) -> float:
    """The sample's value; NaN, infinities and negatives count as 0. The client checked the shape."""
    try:
        value = float(item["value"][1])
    except ValueError:
        raise internal(f"Prometheus answered a sample value that is not a number: {item['value'][1][:40]!r}") from None
    return value if math.isfinite(value) and value > 0 else 0.0


def _key(pack: Pack, query: PlannedQuery, labels: dict[str, str]) -> tuple | None:
    resource = _own_ref(pack, query, labels)
    if resource is None:
        return None
    if query.direction is Direction.RESOURCE:
        return (resource, Direction.RESOURCE, None)
    peer = _peer_ref(pack, query.view.peer, labels) if query.view.peer else None
    if peer is None:
        return None
    return (resource, query.direction, peer)


def _own_ref(pack: Pack, query: PlannedQuery, labels: dict[str, str]) -> Ref | None:
    identity = query.view.self
    name = labels.get(identity.name, "")
    if not name:
        return None
    namespace = labels.get(identity.namespace, "") if identity.namespace else ""
    if identity.namespace and not namespace:
        return None
    # a requested name was selected exactly (encoded): answer it as requested, even where decoding the
    # label value would be ambiguous
    if identity.identifies:   # a pod or Service, mapped to its workload later: its own name
        return Ref(pack.decode(namespace), pack.decode(name), identity.identifies)
    return Ref(pack.decode(namespace), query.requested or pack.decode(name), query.kind.name)


def _peer_ref(pack: Pack, peer: PeerIdentity, labels: dict[str, str]) -> Ref | None:
    namespace = labels.get(peer.namespace, "") if peer.namespace else ""
    if peer.namespace and (not namespace or namespace in pack.unknown_peer):
        return None
    for kind_name, label in peer.names:
        name = labels.get(label, "")
        if not name or name in pack.unknown_peer:
            continue
        if peer.kind_label:
            written = labels.get(peer.kind_label, "")
            kind_name = KIND_BLIND_PEER if peer.kind_optional and not written else _kind_spelling(written)
            if not kind_name:
                return None
        return Ref(pack.decode(namespace), pack.decode(name), kind_name)
    return None


def _kind_spelling(value: str) -> str:
    """A kind as a mesh spells it (`deployment`, `Deployment`) in Kubernetes spelling, or ''."""
    for kind_name in BY_NAME:
        if kind_name.lower() == value.lower():
            return kind_name
    return ""
