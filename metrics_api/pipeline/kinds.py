"""Workload kinds that the series do not say (Istio, Kuma): rows re-kinded from a table of the real kinds,
whichever way that table was made (the Kubernetes API in cluster mode, pod names in --local mode), and
rows of pods or Services added up into the workloads that own them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from metrics_api.core.kinds import BY_NAME, TRAFFICMETRICS, WORKLOAD_KINDS
from metrics_api.core.model import Ref, Row, Target
from metrics_api.packs.model import Pack

ObjectKey = tuple[str, str]          # (namespace, name)
KindTable = dict[ObjectKey, list[str]]   # a workload → its kind(s), Kubernetes spelling
# The kind of a workload the table does not know: what every kind-blind pack documents for its peers.
DEFAULT_KIND = "Deployment"


def kind_blind(pack: Pack) -> bool:
    """Whether the pack reads several workload kinds from the same series naming workloads (no kind
    label, as Istio); views of pods or Services mapped to their owners (`identifies`) know the kinds."""
    views = [(s.resource.source, s.resource.self) for k in WORKLOAD_KINDS if (s := pack.support(k.plural))]
    return len(set(views)) < len(views) and not any(self.identifies for _, self in views)


def with_kinds(target: Target, rows: list[Row], kinds: KindTable) -> list[Row]:
    """Rows of a kind the workload does not have are dropped (or, for `trafficmetrics`, given the real
    kind); peers get their real kind. Workloads missing from `kinds` are Deployments: each workload is
    served under one kind."""
    refined = []
    for row in rows:
        resource = _real(row.resource, kinds)
        if resource != row.resource and target.plural != TRAFFICMETRICS:
            continue
        peer = _real(row.peer, kinds) if row.peer is not None else None
        refined.append(replace(row, resource=resource, peer=peer))
    return refined


def _real(ref: Ref, kinds: KindTable) -> Ref:
    if not BY_NAME[ref.kind].workload:
        return ref
    real = kinds.get((ref.namespace, ref.name)) or [DEFAULT_KIND]
    return ref if ref.kind in real else replace(ref, kind=real[0])


def through_owners(target: Target, rows: list[Row], owner: Callable[[Ref], Ref | None]) -> list[Row]:
    """Rows whose resource or peer is a Pod or a Service where the target asks for another kind, as the
    workload `owner` says is behind it: a resource without one is dropped (its traffic cannot be given to a
    workload), a peer without one stays as it is. Rows that meet are added up (buckets too)."""
    asked = {kind.name for kind in target.kinds}
    merged: dict[tuple, Row] = {}
    for row in rows:
        resource = row.resource if row.resource.kind in asked else owner(row.resource)
        if resource is None or resource.kind not in asked or not _wanted(target, resource):
            continue
        peer = row.peer
        if peer is not None and peer.kind not in asked:
            peer = owner(peer) or peer
        key = (resource, row.direction, peer)
        total = merged.get(key)
        if total is None:
            merged[key] = replace(row, resource=resource, peer=peer, latency_ms=dict(row.latency_ms),
                                  buckets=dict(row.buckets))
            continue
        total.success += row.success
        total.failure += row.failure
        for bound, rate in row.buckets.items():
            total.buckets[bound] = total.buckets.get(bound, 0.0) + rate
    return sorted(merged.values(), key=lambda r: r.sort_key)


def _wanted(target: Target, resource: Ref) -> bool:
    # Cluster views select a whole namespace's pods: keep the one asked for.
    return (target.name is None or resource.name == target.name) and \
        (target.namespace is None or resource.namespace == target.namespace)
