"""Data model and deterministic scenario builders for the mesh-traffic simulator.

A :class:`Scenario` is a set of Kubernetes workloads and constant per-pod-pair
:class:`Flow` s.  Every counter a mesh would export grows linearly from a
non-zero initial value, and every per-step increment is an exact integer, so
Prometheus' ``increase``/``rate`` (with extrapolation) give exactly
``rps * window`` and the ground truth can be computed in closed form.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum

KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")

# Alphabet Kubernetes uses for generated name suffixes (rand.SafeEncodeString).
_SAFE = "bcdfghjklmnpqrstvwxz2456789"

# Each counter starts as if the process had already run this many steps,
# plus a constant offset so that even idle (rps=0) series are non-zero.
BASE_STEPS = 360
IDLE_OFFSET = 5


def _safe_suffix(seed: str, n: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:n])


@dataclass(frozen=True)
class Workload:
    namespace: str
    name: str
    kind: str  # "Deployment" | "StatefulSet" | "DaemonSet" | "Job"
    pods: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    pod_template_hash: str = ""  # Deployments only
    service_account_name: str = ""   # "" = a ServiceAccount named like the workload

    @property
    def service(self) -> str:
        """Name of the Service in front of the workload (DNS-1035: dots → dashes)."""
        return self.name.replace(".", "-")

    @property
    def service_account(self) -> str:
        """ServiceAccount names are DNS subdomains: dots allowed."""
        return self.service_account_name or self.name

    def pod_refs(self) -> tuple[PodRef, ...]:
        return tuple(PodRef(self.namespace, p, self) for p in self.pods)


@dataclass(frozen=True)
class PodRef:
    namespace: str
    pod: str
    workload: Workload


class Protocol(Enum):
    HTTP = "http"
    GRPC = "grpc"


NO_RESPONSE = 0   # the HTTP "status" of a request that never got a response (Istio writes it so)


@dataclass(frozen=True)
class Outcome:
    """How one request ended: its HTTP status (NO_RESPONSE when none came back) and, for a gRPC call
    that was answered, its grpc-status (0 = OK)."""

    http: int
    grpc: int | None = None

    @property
    def responded(self) -> bool:
        return self.http != NO_RESPONSE

    def sort_key(self) -> tuple[int, int]:
        return self.http, -1 if self.grpc is None else self.grpc


@dataclass(frozen=True)
class Flow:
    """Constant traffic from one pod to another (source None = unmeshed caller).

    ``failure_ratio`` of the requests are answered HTTP 500 and ``no_response_ratio`` get no response at
    all; a gRPC flow answers the rest HTTP 200 with grpc-status 0, except ``grpc_statuses`` (status →
    ratio) of them."""

    source: PodRef | None
    destination: PodRef
    rps: float
    failure_ratio: float
    latencies_ms: tuple[float, ...]
    protocol: Protocol = Protocol.HTTP
    grpc_statuses: tuple[tuple[int, float], ...] = ()
    no_response_ratio: float = 0.0
    apex: str = ""  # the Service the client addressed when a traffic split sent it elsewhere ("": the destination's own)

    @property
    def addressed(self) -> str:
        """The Service (in the destination's namespace) the client called."""
        return self.apex or self.destination.workload.service

    @property
    def ok(self) -> Outcome:
        return Outcome(200, 0) if self.protocol is Protocol.GRPC else Outcome(200)

    def outcomes(self, step: int) -> dict[Outcome, int]:
        """Requests per scrape step by outcome; every count an exact integer."""
        n = _exact_int(self.rps * step, f"rps*step for {self}")
        _exact_int(n / len(self.latencies_ms), f"rps*step/len(latencies) for {self}")
        ok = self.ok
        other = [(Outcome(500), self.failure_ratio), (Outcome(NO_RESPONSE), self.no_response_ratio)]
        other += [(Outcome(200, code), ratio) for code, ratio in self.grpc_statuses]
        out = {o: _exact_int(self.rps * step * r, f"rps*step*ratio for {o} in {self}") for o, r in other if r}
        out[ok] = n - sum(out.values())
        if out[ok] < 0:
            raise ValueError(f"outcome ratios above 1 in {self}")
        return out

    def per_step(self, step: int) -> tuple[int, int]:
        """(requests, HTTP 5xx answers) per scrape step."""
        counts = self.outcomes(step)
        return sum(counts.values()), counts.get(Outcome(500), 0)

    def cells(self, step: int) -> list[tuple[float, dict[Outcome, int]]]:
        """Per latency: (latency_ms, requests per step by outcome).

        Each latency gets n/L requests; each non-OK outcome's k requests are spread over the
        latencies (k//L each, the remainder to the first ones), so the aggregated latency
        distribution is exactly uniform over ``latencies_ms``."""
        counts = self.outcomes(step)
        lat = len(self.latencies_ms)
        per = sum(counts.values()) // lat
        ok = self.ok
        out = []
        for j, ms in enumerate(self.latencies_ms):
            cell = {o: k // lat + (1 if j < k % lat else 0) for o, k in counts.items() if o != ok}
            cell[ok] = per - sum(cell.values())
            if cell[ok] < 0:
                raise ValueError(f"too few requests per latency for the outcomes of {self}")
            out.append((ms, cell))
        return out


def _exact_int(x: float, what: str) -> int:
    r = round(x)
    if abs(x - r) > 1e-9:
        raise ValueError(f"{what} must be an integer, got {x}")
    return int(r)


@dataclass(frozen=True)
class Scenario:
    workloads: tuple[Workload, ...]
    flows: tuple[Flow, ...]
    start: int  # unix seconds of the first sample
    end: int  # unix seconds of the last sample
    step: int = 10  # scrape interval seconds

    def __post_init__(self) -> None:
        if self.end < self.start or self.step <= 0:
            raise ValueError("bad time range")
        for fl in self.flows:
            fl.cells(self.step)  # validates integrality
            if not 0 <= fl.failure_ratio <= 1 or fl.rps < 0 or not fl.latencies_ms:
                raise ValueError(f"bad flow {fl}")

    # -- lookups -------------------------------------------------------
    def timestamps(self) -> range:
        return range(self.start, self.end + 1, self.step)

    def workload(self, namespace: str, name: str, kind: str | None = None) -> Workload:
        for w in self.workloads:
            if w.namespace == namespace and w.name == name and (kind is None or w.kind == kind):
                return w
        raise KeyError((namespace, name, kind))

    def pod(self, namespace: str, pod: str) -> PodRef:
        for w in self.workloads:
            if w.namespace == namespace and pod in w.pods:
                return PodRef(namespace, pod, w)
        raise KeyError((namespace, pod))

    def pods(self) -> Iterator[PodRef]:
        for w in self.workloads:
            yield from w.pod_refs()

    def namespaces(self) -> tuple[str, ...]:
        return tuple(sorted({w.namespace for w in self.workloads}))

    def pod_index(self) -> dict[tuple[str, str], int]:
        """Stable index per pod (used for deterministic pod IPs)."""
        return {(p.namespace, p.pod): i for i, p in enumerate(self.pods())}


def pod_ip(index: int) -> str:
    return f"10.42.{index // 250}.{index % 250 + 2}"


# -- builders ----------------------------------------------------------------


def make_workload(namespace: str, name: str, kind: str, replicas: int, **labels: str) -> Workload:
    if kind not in KINDS:
        raise ValueError(kind)
    seed = f"{namespace}/{name}"
    hash_ = ""
    if kind == "Deployment":
        hash_ = _safe_suffix(seed + "#hash", 10)
        pods = tuple(f"{name}-{hash_}-{_safe_suffix(f'{seed}#{i}', 5)}" for i in range(replicas))
    elif kind == "StatefulSet":
        pods = tuple(f"{name}-{i}" for i in range(replicas))
    else:  # DaemonSet, Job
        pods = tuple(f"{name}-{_safe_suffix(f'{seed}#{i}', 5)}" for i in range(replicas))
    all_labels = {"app": name, **labels}
    return Workload(namespace, name, kind, pods, all_labels, hash_)


def spread(
    source: Workload | None,
    destination: Workload,
    rps: float,
    failure_ratio: float,
    latencies_ms: tuple[float, ...],
    **outcomes,
) -> list[Flow]:
    """One workload-level flow → per-pod-pair flows, each with ``rps``.

    Pairs are assigned round-robin: max(len(src pods), len(dst pods)) pairs,
    pair i = (src pod i mod |src|, dst pod i mod |dst|).  An unmeshed source
    gives one flow per destination pod. ``outcomes``: Flow's protocol, grpc_statuses, no_response_ratio.
    """
    dst = destination.pod_refs()
    src = source.pod_refs() if source is not None else (None,)
    n = max(len(src), len(dst))
    return [Flow(src[i % len(src)], dst[i % len(dst)], rps, failure_ratio, latencies_ms, **outcomes) for i in range(n)]


# Latency sets (ms).  Five values each so that p50/p90/p99 ranks never fall
# exactly on a bucket boundary (see tests/truth.py: quantile_ties).
LAT_MID = (3.0, 8.0, 45.0, 120.0, 260.0)
LAT_FAST = (0.7, 2.0, 2.5, 30.0, 4.2)
LAT_SLOW = (250.0, 900.0, 1200.0, 4000.0, 70000.0)  # 70 s: beyond Linkerd's top bucket
LAT_DB = (1.5, 6.0, 15.0, 35.0, 600.0)
LAT_CANARY = (6.5, 22.0, 85.0, 320.0, 1700.0)

# The canary: clients address the apex Service `checkout`; a traffic split sends 90% to checkout-stable and
# 10% to checkout-canary (slower, failing more). Split objects: meshsim.routes.
CANARY_APEX = "checkout"


def default_scenario(now: int | None = None) -> Scenario:
    """The reference topology: shop/pay/ops, samples now-20min … now+60min, step 10s."""
    now = int(time.time()) if now is None else int(now)
    step = 10
    now -= now % step
    start, end = now - 20 * 60, now + 60 * 60

    W = make_workload
    web = W("shop", "web", "Deployment", 2, tier="frontend")
    api = W("shop", "api", "Deployment", 2, tier="backend")
    db = W("shop", "db", "StatefulSet", 2, tier="data")
    idle = W("shop", "idle", "Deployment", 1, tier="backend")
    gateway = W("pay", "gateway", "Deployment", 1, tier="backend")
    ledger = W("pay", "ledger", "StatefulSet", 1, tier="data")
    agent = W("ops", "agent", "DaemonSet", 2, tier="infra")
    backup = W("ops", "backup", "Job", 1, tier="infra")
    ab = W("ops", "a.b", "Deployment", 1, tier="edge")
    axb = W("ops", "axb", "Deployment", 1, tier="edge")
    # A dotted name whose regex lookalike sorts *before* it ("-" < "."): a name matched with =~ would
    # bring c-d's series into a GET of c.d, and the first row after sorting would be c-d's. (a.b's
    # lookalike axb sorts after it, so that pair alone cannot show the bug.) Both sit behind the one
    # Service "c-d", as two Deployments selected by one Service do.
    cd = W("ops", "c.d", "Deployment", 1, tier="edge")
    c_d = W("ops", "c-d", "Deployment", 1, tier="edge")
    stable = W("shop", "checkout-stable", "Deployment", 2, tier="backend", track="stable")
    canary = W("shop", "checkout-canary", "Deployment", 1, tier="backend", track="canary")
    workloads = (web, api, db, idle, gateway, ledger, agent, backup, ab, axb, cd, c_d, stable, canary)

    flows: list[Flow] = []
    flows += spread(None, web, 20, 0.01, LAT_MID)  # external traffic
    flows += spread(web, api, 10, 0.05, LAT_FAST)
    flows += spread(api, web, 3, 0.0, LAT_MID)  # bidirectional edge
    flows += spread(api, db, 8, 0.25, LAT_DB)  # Deployment → StatefulSet
    # gRPC: UNAVAILABLE (14) and NOT_FOUND (5, a success to Linkerd) answered with HTTP 200
    flows += spread(web, api, 5, 0.0, LAT_FAST, protocol=Protocol.GRPC, grpc_statuses=((14, 0.1), (5, 0.02)))
    flows += spread(api, gateway, 4, 0.05, LAT_MID, no_response_ratio=0.05)  # cross-namespace; resets
    flows += spread(gateway, ledger, 6, 0.05, LAT_DB)
    flows += spread(agent, api, 1, 0.0, LAT_FAST)
    flows += spread(backup, db, 0.5, 0.0, LAT_SLOW)
    flows += spread(ab, axb, 3, 0.0, LAT_MID)
    flows += spread(axb, ab, 4, 0.25, LAT_FAST)
    flows += spread(cd, c_d, 2, 0.0, LAT_MID)
    flows += spread(c_d, cd, 5, 0.2, LAT_FAST)
    flows += spread(None, idle, 0, 0.0, LAT_MID)  # series exist, never increase
    # The canary, 90/10: web sends 2×9 rps to stable and 2×1 rps to canary; agent (ops) calls it too.
    flows += spread(web, stable, 9, 1 / 30, LAT_MID, apex=CANARY_APEX)
    flows += spread(web, canary, 1, 0.2, LAT_CANARY, apex=CANARY_APEX)
    flows += spread(agent, stable, 1, 0.0, LAT_FAST, apex=CANARY_APEX)
    return Scenario(workloads, tuple(flows), start, end, step)


def scaled_scenario(pods: int, now: int | None = None) -> Scenario:
    """Benchmark topology: namespace ``bench``, ``pods`` server pods in Deployments of 5,
    each pod receiving one flow from a ``client`` Deployment; window ±20 min."""
    now = int(time.time()) if now is None else int(now)
    step = 10
    now -= now % step
    n_clients = max(1, min(10, pods // 5))
    client = make_workload("bench", "client", "Deployment", n_clients, tier="client")
    workloads = [client]
    flows: list[Flow] = []
    remaining, k = pods, 0
    while remaining > 0:
        size = min(5, remaining)
        w = make_workload("bench", f"svc-{k:04d}", "Deployment", size, tier="server")
        workloads.append(w)
        for i, dst in enumerate(w.pod_refs()):
            src = client.pod_refs()[(k * 5 + i) % n_clients]
            flows.append(Flow(src, dst, 2, 0.05, LAT_MID))
        remaining -= size
        k += 1
    return Scenario(tuple(workloads), tuple(flows), now - 20 * 60, now + 20 * 60, step)
