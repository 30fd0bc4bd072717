"""Normalize: Prometheus series → rows of traffic statistics, whatever the mesh. Plain data out."""
from __future__ import annotations

import math
from collections.abc import Sequence

from metrics_api.core.kinds import BY_NAME
from metrics_api.core.model import QUANTILES, Direction, Measure, Ref, Row
from metrics_api.packs.model import Pack, PeerIdentity
from metrics_api.pipeline.plan import PlannedQuery
from metrics_api.store.prometheus import Series


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
                if pack.failure.fullmatch(item["metric"].get(pack.status_label, "")):
                    row.failure += value
                else:
                    row.success += value
    for query, series in zip(planned, results):
        if query.measure is Measure.BUCKETS:
            for item in series:
                key = _key(pack, query, item["metric"])
                row = rows.get(key) if key else None
                bound = _bound(item["metric"].get("le", ""))
                if row is not None and bound is not None:
                    row.buckets[bound] = row.buckets.get(bound, 0.0) + _number(item)
        elif query.measure in QUANTILES:
            scale = pack.latency_scale
            for item in series:
                key = _key(pack, query, item["metric"])
                row = rows.get(key) if key else None
                value = _number(item)
                if row is not None and value > 0:
                    row.latency_ms[query.measure] = value * scale
    return sorted(rows.values(), key=lambda r: r.sort_key)


def _number(item: Series) -> float:
    try:
        value = float(item["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) and value > 0 else 0.0


def _bound(le: str) -> float | None:
    try:
        return float(le)   # also "+Inf" and Go's "1.8e+06"
    except ValueError:
        return None


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
    return Ref(pack.decode(namespace), pack.decode(name), identity.identifies or query.kind.name)


def _peer_ref(pack: Pack, peer: PeerIdentity, labels: dict[str, str]) -> Ref | None:
    namespace = labels.get(peer.namespace, "") if peer.namespace else ""
    if peer.namespace and (not namespace or namespace in pack.unknown_peer):
        return None
    for kind_name, label in peer.names:
        name = labels.get(label, "")
        if not name or name in pack.unknown_peer:
            continue
        if peer.kind_label:
            kind_name = _kind_spelling(labels.get(peer.kind_label, ""))
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
