"""Ground truth for a simulated scenario, computed in closed form.

Written independently of the server: it only knows the scenario data model and
each mesh's histogram bucket bounds.  Numbers follow CONTRACT §3:
counts = rps * window summed over the inbound flows of the resource (unmeshed
callers included), request_rate = total / window, success_rate = success / total
(0 without traffic), p50/p90/p99 in ms = Prometheus ``histogram_quantile`` over
the aggregated bucket increases of the mesh's buckets (0 without traffic).
Edges: ``to`` = flows whose source is in the resource grouped by destination,
``from`` = flows whose destination is in the resource grouped by (meshed) source.

One definition of failure for every mesh (docs/meshes.md): HTTP 5xx, no response, and a non-OK gRPC
status — where the mesh records it. ``verdict`` states per mesh what becomes of each outcome: Envoy
meshes (Consul, Kuma) answer a request the app never answered with their own 503 and see gRPC answers
only as HTTP 200; OSM and Hubble count responses only and see gRPC answers as HTTP 200; Linkerd observes
no latency for a request without a response.

Meshes differ in what they can see (tests/test_conformance.py states it per mesh): a resource may be
measured by its callers only (``meshed_only``: unmeshed callers invisible), an edge's peer may be
named at another granularity than the resource (``peer_kind``: "Service" = the Service in front of
the peer's workload, "workload" = the peer's workload), and a mesh may record latencies rounded
(the renderer's ``observe``, e.g. OSM's whole milliseconds).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from meshsim import VARIANTS
from meshsim.scenario import Flow, Outcome, PodRef, Scenario

QUANTILES = (0.5, 0.9, 0.99)
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
ENVOY_MESHES = frozenset({"consul", "kuma"})
RESPONSES_ONLY = frozenset({"osm", "cilium"})   # count responses only; gRPC status unrecorded
GRPC_RECORDED = frozenset({"linkerd", "istio"})


class Verdict(Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    UNSEEN = "unseen"   # the mesh does not count the request


def buckets(variant: str) -> tuple[float, ...]:
    return tuple(VARIANTS[variant].BUCKETS_MS)


def observe(variant: str, ms: float) -> float:
    """The latency ``variant`` records for a request of ``ms`` milliseconds."""
    return VARIANTS[variant].observe(ms)


def verdict(variant: str, outcome: Outcome) -> Verdict:
    """What the one failure definition makes of ``outcome`` on this mesh."""
    mesh = VARIANTS[variant].mesh
    if not outcome.responded:
        return Verdict.UNSEEN if mesh in RESPONSES_ONLY else Verdict.FAILURE
    if outcome.http >= 500:
        return Verdict.FAILURE
    if outcome.grpc and mesh in GRPC_RECORDED:
        return Verdict.FAILURE
    return Verdict.SUCCESS


def timed(variant: str, outcome: Outcome) -> bool:
    """Whether the mesh's latency histogram observes such a request (for this resource's labels)."""
    if verdict(variant, outcome) is Verdict.UNSEEN:
        return False
    return outcome.responded or VARIANTS[variant].mesh != "linkerd"


@dataclass(frozen=True, order=True)
class Ref:
    kind: str  # "Namespace" | "Pod" | "Deployment" | ...
    namespace: str | None  # None for Namespace
    name: str

    @staticmethod
    def ns(name: str) -> Ref:
        return Ref("Namespace", None, name)


@dataclass(frozen=True)
class Metrics:
    success_count: float
    failure_count: float
    request_rate: float
    success_rate: float | None   # None without requests: the API omits it (CONTRACT §3)
    p50: float
    p90: float
    p99: float

    @property
    def total(self) -> float:
        return self.success_count + self.failure_count


@dataclass(frozen=True)
class Edge:
    direction: str  # "to" | "from"
    peer: Ref
    metrics: Metrics


# -- quantiles -----------------------------------------------------------------


def histogram_quantile(q: float, bounds: Sequence[float], cumulative: Sequence[float]) -> float:
    """Prometheus' bucketQuantile.  ``cumulative`` has len(bounds)+1 entries (last = +Inf).

    Returns 0 when there are no observations (the contract's "no traffic" value).
    """
    total = cumulative[-1]
    if total <= 0:
        return 0.0
    rank = q * total
    b = next((i for i in range(len(bounds)) if cumulative[i] >= rank), len(bounds))
    if b == len(bounds):  # in the +Inf bucket: highest finite bound
        return float(bounds[-1])
    lo = 0.0 if b == 0 else float(bounds[b - 1])
    below = 0.0 if b == 0 else cumulative[b - 1]
    return lo + (float(bounds[b]) - lo) * (rank - below) / (cumulative[b] - below)


def quantile_ties(q: float, cumulative: Sequence[float], rel: float = 1e-9) -> bool:
    """True if rank q*total sits on a finite bucket boundary (float noise could then
    move Prometheus' answer to the next non-empty bucket)."""
    total = cumulative[-1]
    if total <= 0:
        return False
    rank = q * total
    return any(abs(c - rank) <= rel * total and c < total for c in cumulative[:-1])


def bucket_counts(flows: Iterable[Flow], bounds: Sequence[float], window: float, recorded=float,
                  observed=lambda outcome: True, step: int = 10) -> list[float]:
    """Cumulative bucket increases over ``window`` seconds (last entry = +Inf); ``recorded`` maps a
    latency to what the mesh records, ``observed`` tells which outcomes the histogram sees."""
    per = [0.0] * (len(bounds) + 1)
    for fl in flows:
        for ms, counts in fl.cells(step):
            each = sum(c for outcome, c in counts.items() if observed(outcome)) * window / step
            b = next((i for i, ub in enumerate(bounds) if recorded(ms) <= ub), len(bounds))
            per[b] += each
    out, acc = [], 0.0
    for c in per:
        acc += c
        out.append(acc)
    return out


def metrics_of(flows: Sequence[Flow], mesh: str, window: float, step: int = 10) -> Metrics:
    """``mesh`` is a simulator variant (its buckets, and its mesh's failure definition)."""
    flows = list(flows)
    counted = {v: 0.0 for v in Verdict}
    for fl in flows:
        for outcome, per_step in fl.outcomes(step).items():
            counted[verdict(mesh, outcome)] += per_step * window / step
    failure, success = counted[Verdict.FAILURE], counted[Verdict.SUCCESS]
    total = success + failure
    cum = bucket_counts(flows, buckets(mesh), window, lambda ms: observe(mesh, ms),
                        lambda outcome: timed(mesh, outcome), step)
    p50, p90, p99 = (histogram_quantile(q, buckets(mesh), cum) for q in QUANTILES)
    return Metrics(
        success_count=success,
        failure_count=failure,
        request_rate=total / window if window else 0.0,
        success_rate=success / total if total else None,
        p50=p50,
        p90=p90,
        p99=p99,
    )


# -- resources -----------------------------------------------------------------


def contains(ref: Ref, p: PodRef) -> bool:
    if ref.kind == "Namespace":
        return p.namespace == ref.name
    if ref.kind == "Pod":
        return p.namespace == ref.namespace and p.pod == ref.name
    if ref.kind == "Service":   # every workload of the scenario has one Service in front of it
        return p.namespace == ref.namespace and p.workload.service == ref.name
    return p.namespace == ref.namespace and p.workload.kind == ref.kind and p.workload.name == ref.name


def peer_ref(kind: str, p: PodRef) -> Ref:
    """The peer of an edge at granularity ``kind``: a resource kind (Namespace, Pod, a workload kind:
    the peer's own workload), "Service" or "workload"."""
    if kind == "Namespace":
        return Ref.ns(p.namespace)
    if kind == "Pod":
        return Ref("Pod", p.namespace, p.pod)
    if kind == "Service":
        return Ref("Service", p.namespace, p.workload.service)
    return Ref(p.workload.kind, p.namespace, p.workload.name)


def resources(scenario: Scenario, kind: str, namespace: str | None = None) -> list[Ref]:
    """Every resource of ``kind`` in the scenario (optionally in one namespace), sorted."""
    if kind == "Namespace":
        out = {Ref.ns(ns) for ns in scenario.namespaces()}
    elif kind == "Pod":
        out = {Ref("Pod", p.namespace, p.pod) for p in scenario.pods()}
    elif kind == "Service":
        out = {Ref("Service", w.namespace, w.service) for w in scenario.workloads}
    else:
        out = {Ref(w.kind, w.namespace, w.name) for w in scenario.workloads if w.kind == kind}
    if namespace is not None:
        out = {r for r in out if (r.name if r.kind == "Namespace" else r.namespace) == namespace}
    return sorted(out)


def inbound_flows(scenario: Scenario, ref: Ref, meshed_only: bool = False) -> list[Flow]:
    return [fl for fl in scenario.flows if contains(ref, fl.destination) and not (meshed_only and fl.source is None)]


def outbound_flows(scenario: Scenario, ref: Ref) -> list[Flow]:
    return [fl for fl in scenario.flows if fl.source is not None and contains(ref, fl.source)]


def resource_metrics(scenario: Scenario, mesh: str, ref: Ref, window: float, meshed_only: bool = False) -> Metrics:
    return metrics_of(inbound_flows(scenario, ref, meshed_only), mesh, window, scenario.step)


def edge_groups(
    scenario: Scenario, ref: Ref, peer_kinds: dict[str, str] | None = None
) -> dict[tuple[str, Ref], list[Flow]]:
    """Flows per (direction, peer); ``peer_kinds`` maps a direction to the peers' granularity
    (default: the resource's kind)."""
    peer_kinds = peer_kinds or {}
    groups: dict[tuple[str, Ref], list[Flow]] = {}
    for fl in scenario.flows:
        if fl.source is None:
            continue  # unmeshed callers are never edges
        if contains(ref, fl.source):
            groups.setdefault(("to", peer_ref(peer_kinds.get("to", ref.kind), fl.destination)), []).append(fl)
        if contains(ref, fl.destination):
            groups.setdefault(("from", peer_ref(peer_kinds.get("from", ref.kind), fl.source)), []).append(fl)
    return groups


def edges(
    scenario: Scenario, mesh: str, ref: Ref, window: float, peer_kinds: dict[str, str] | None = None
) -> list[Edge]:
    """Edge items of ``ref``, sorted by (direction, peer)."""
    groups = edge_groups(scenario, ref, peer_kinds)
    return [Edge(d, peer, metrics_of(fls, mesh, window, scenario.step)) for (d, peer), fls in sorted(groups.items())]


def all_flow_sets(scenario: Scenario) -> Iterable[tuple[str, list[Flow]]]:
    """(description, flows) for every resource and edge the scenario defines."""
    for kind in ("Namespace", "Pod", *WORKLOAD_KINDS):
        for ref in resources(scenario, kind):
            yield f"{ref}", inbound_flows(scenario, ref)
            for (d, peer), fls in edge_groups(scenario, ref).items():
                yield f"{ref} {d} {peer}", fls
