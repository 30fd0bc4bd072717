"""Normalize: Prometheus series → rows of traffic statistics, whatever the mesh. Plain data out."""
from __future__ import annotations

import math
from collections.abc import Sequence

from metrics_api.core.errors import internal
from metrics_api.core.kinds import BY_NAME
from metrics_api.core.model import QUANTILES, Direction, Measure, Ref, Row
from metrics_api.core.quantity import MAX_INT64
from metrics_api.packs.model import KIND_BLIND_PEER, Pack, PeerIdentity
from metrics_api.pipeline.plan import PlannedQuery
from metrics_api.pipeline.quantile import Bucket, bucket_quantile, parse_le
from metrics_api.store.prometheus import Series

# Numbers are capped at the int64 range that clients read them into (a Table's integer cells, Go's
# quantities): absurd store values then render as the largest quantity instead of overflowing.
LARGEST = float(MAX_INT64)


def normalize(pack: Pack, planned: Sequence[PlannedQuery], results: Sequence[list[Series]]) -> list[Row]:
    """Rows keyed by (resource, direction, peer). Counts define which rows exist; latency
    series without counts are dropped, and NaN quantiles (no requests in the window) are absent."""
    rows: dict[tuple, Row] = {}
    for query, series in zip(planned, results):
        if query.measure is Measure.PRESENCE:
            for item in series:
                key = _key(pack, query, item["metric"])
                if key is not None and key not in rows:
                    rows[key] = Row(key[0], Direction.RESOURCE, None)
        elif query.measure is Measure.COUNTS:
            for item in series:
                key = _key(pack, query, item["metric"])
                if key is None:
                    continue
                row = rows.get(key)
                if row is None:
                    row = rows[key] = Row(key[0], query.direction, key[2])
                value = _number(item)
                if pack.classify.is_failure(item["metric"]):
                    row.failure = min(row.failure + value, LARGEST)
                else:
                    row.success = min(row.success + value, LARGEST)
    for query, series in zip(planned, results):
        if query.measure is Measure.BUCKETS:
            _latencies(pack, query, series, rows)
    return sorted(rows.values(), key=lambda r: r.sort_key)


def _latencies(pack: Pack, query: PlannedQuery, series: list[Series], rows: dict[tuple, Row]) -> None:
    """p99/p90/p50 of each histogram in a bucket answer, for the rows the counts made. A histogram is
    the series sharing every label but `le` (as histogram_quantile groups them); the query groups by
    the view's labels, so their values identify it. NaN quantiles (no requests) stay absent."""
    grouped_by = query.view.labels()
    histograms: dict[tuple[str, ...], tuple[dict[str, str], list[Bucket]]] = {}
    for item in series:
        labels = item["metric"]
        bound = parse_le(labels.get("le", ""))
        count = _sample(item)
        if bound is None or count is None:   # Prometheus skips a series whose `le` is not a number
            continue
        identity = tuple(labels.get(label, "") for label in grouped_by)
        found = histograms.get(identity)
        if found is None:
            found = histograms[identity] = (labels, [])
        found[1].append((bound, count))
    for labels, buckets in histograms.values():
        key = _key(pack, query, labels)
        row = rows.get(key) if key else None
        if row is None:
            continue
        for measure, quantile in QUANTILES.items():
            value = bucket_quantile(quantile, buckets)
            if math.isfinite(value) and value > 0:
                row.latency_ms[measure] = min(value * pack.latency_scale, LARGEST)


def _sample(item: Series) -> float | None:
    """A sample's value as the store wrote it (NaN and ±Inf included), or None if unreadable."""
    try:
        return float(item["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _number(item: Series) -> float:
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
