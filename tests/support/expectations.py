"""What the server must answer for the simulated scenario, per mesh: the table of what each mesh can
see (SIGHT) and the comparisons with tests/truth.py, shared by the conformance and kubectl suites."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from metrics_api.apis.smi import API_PREFIX
from tests.support import truth
from tests.support.truth import Ref

P = API_PREFIX
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
PLURALS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets", "Job": "jobs",
           "ReplicaSet": "replicasets", "Pod": "pods", "Service": "services", "Namespace": "namespaces"}
WINDOWS = {"30s": 30, "1m": 60, "5m": 300}
WINDOW_TEXT = {"30s": "30s", "1m": "1m0s", "5m": "5m0s", "45s": "45s"}
BOTH = ("to", "from")


@dataclass(frozen=True)
class Kind:
    """What a mesh serves for one kind."""
    edges: tuple[str, ...] = BOTH        # edge directions served
    peers: dict[str, str] = field(default_factory=dict)   # direction → peer granularity if not the kind's own
    callers_only: bool = False           # measured from the callers' side: unmeshed callers are invisible


@dataclass(frozen=True)
class Sight:
    """What one mesh's series let the server see."""
    kinds: dict[str, Kind]
    cluster: bool = False      # cluster mode: an object the mesh never saw exists in Kubernetes (zeros, not 404)
    kind_blind: bool = False   # workload labels carry no kind: each workload is served under the kind its
                               # pod names show (KIND_FROM_POD_NAMES), peers too


SERVICE_PEERS = {"to": "Service"}
# The table the suite asserts (and docs/meshes.md repeats). Kinds not listed are not served (404).
SIGHT: dict[str, Sight] = {
    "linkerd": Sight({
        **{k: Kind() for k in WORKLOADS}, "ReplicaSet": Kind(), "Pod": Kind(), "Namespace": Kind(),
        # Services exist only in the callers' outbound series (dst_service): meshed callers only.
        "Service": Kind(edges=("from",), peers={"from": "workload"}, callers_only=True),
    }),
    "istio": Sight({
        **{k: Kind() for k in WORKLOADS}, "Namespace": Kind(),
        "Pod": Kind(peers={"to": "workload", "from": "workload"}),   # telemetry v2 has no peer pod label
        "Service": Kind(edges=("from",), peers={"from": "workload"}),
    }, kind_blind=True),
    "consul": Sight({
        # Identity is the Consul service; workloads need the pods' owners from Kubernetes (not in --local).
        "Service": Kind(), "Namespace": Kind(),
        "Pod": Kind(edges=("to",), peers=SERVICE_PEERS),   # upstream clusters name Services, never pods
    }),
    "osm": Sight({   # only the calling sidecar records: unmeshed callers are invisible everywhere
        **{k: Kind(callers_only=True) for k in (*WORKLOADS, "ReplicaSet", "Pod", "Namespace")},
    }),
    "kuma": Sight({
        # Upstream clusters name the destination Service: `to` peers are Services, and a workload's
        # callers are only known per Service (services/<name>/edges), so workloads have no `from` edges.
        **{k: Kind(edges=("to",), peers=SERVICE_PEERS) for k in WORKLOADS},
        "Pod": Kind(edges=("to",), peers=SERVICE_PEERS),
        "Service": Kind(edges=("from",), peers={"from": "workload"}, callers_only=True),
        "Namespace": Kind(),
    }, kind_blind=True),
    "cilium": Sight({**{k: Kind() for k in (*WORKLOADS, "Pod", "Namespace")}}),
}
MESHES = tuple(SIGHT)

# With Kubernetes access (cluster mode, tests/support/kube_stub.py holds the scenario's objects): kinds
# come from the cluster, and where the series name pods and Services (Consul, Kuma) these are mapped to
# the workloads owning them (ownerReferences; EndpointSlices), so workloads get both edge directions and
# Service and pod peers become workloads. What stays blank is unobservable whatever the cluster says:
# OSM's and Cilium's series name no Service, Istio's no peer pod, Consul's and Kuma's upstream clusters
# no destination pod (a pod's callers are unknown), Consul's and Kuma's servers see no callers per pod.
WORKLOAD_PEERS = {"to": "workload"}
CLUSTER_SIGHT: dict[str, Sight] = {
    "linkerd": Sight(SIGHT["linkerd"].kinds, cluster=True),
    "istio": Sight(SIGHT["istio"].kinds, cluster=True),
    "consul": Sight(cluster=True, kinds={
        **{k: Kind() for k in (*WORKLOADS, "ReplicaSet")}, "Service": Kind(), "Namespace": Kind(),
        "Pod": Kind(edges=("to",), peers=WORKLOAD_PEERS),
    }),
    "osm": Sight(SIGHT["osm"].kinds, cluster=True),
    "kuma": Sight(cluster=True, kinds={
        **{k: Kind() for k in (*WORKLOADS, "ReplicaSet")}, "Namespace": Kind(),
        "Pod": Kind(edges=("to",), peers=WORKLOAD_PEERS),
        "Service": Kind(edges=("from",), peers={"from": "workload"}, callers_only=True),
    }),
    "cilium": Sight(SIGHT["cilium"].kinds, cluster=True),
}
MODES = {"local": SIGHT, "cluster": CLUSTER_SIGHT}

# --local, kind-blind meshes: the kind a workload's pod names show (docs/meshes.md): `<name>-<hash>-<5>`
# is a Deployment's pod, `<name>-<ordinal>` a StatefulSet's; DaemonSet and Job pods (`<name>-<5 chars>`)
# tell nothing, so those workloads are served as the packs' default, Deployment.
KIND_FROM_POD_NAMES = {"Deployment": "Deployment", "StatefulSet": "StatefulSet", "DaemonSet": "Deployment",
                       "Job": "Deployment"}


def quantity(text: str) -> float:
    suffix = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9}
    return float(text[:-1]) * suffix[text[-1]] if text[-1] in suffix else float(text)


def assert_matches(item, expected: truth.Metrics, context: str) -> None:
    got = {m["name"]: quantity(m["value"]) for m in item["metrics"]}
    wanted = {
        "success_count": expected.success_count, "failure_count": expected.failure_count,
        "request_rate": expected.request_rate, "success_rate": expected.success_rate,
        "p50_response_latency": expected.p50, "p90_response_latency": expected.p90,
        "p99_response_latency": expected.p99,
    }
    for name, value in wanted.items():
        # Counts and rates within 1%; percentiles are the mesh's own bucket interpolation (truth uses the
        # same buckets), so they agree to float noise plus the quantity's 1/1000 truncation.
        assert got[name] == pytest.approx(value, rel=0.01, abs=1.0 if name.endswith("count") else 0.002), (
            f"{context}: {name} = {got[name]}, truth {value}")


def reported_kind(sight: Sight, kind: str) -> str:
    return KIND_FROM_POD_NAMES[kind] if sight.kind_blind and kind in WORKLOADS else kind


def as_served(sight: Sight, ref: Ref) -> Ref:
    """The resource as the server names it (its kind as `reported_kind`)."""
    return Ref(reported_kind(sight, ref.kind), ref.namespace, ref.name)


def peer_granularity(sight: Sight, ref: Ref, direction: str) -> str:
    granularity = sight.kinds[ref.kind].peers.get(direction, ref.kind)
    return granularity


def expected_peer(sight: Sight, peer: Ref) -> tuple:
    return (reported_kind(sight, peer.kind), peer.namespace, peer.name)


def observable(scenario, sight: Sight, ref: Ref) -> bool:
    """Does the mesh have series naming `ref`? Its callers' (all, or meshed only) or, when it serves
    `to` edges, its own outbound series (a pure client is listed with zero inbound traffic)."""
    kind = sight.kinds[ref.kind]
    if truth.inbound_flows(scenario, ref, meshed_only=kind.callers_only):
        return True
    return "to" in kind.edges and bool(truth.outbound_flows(scenario, ref))


def resource_truth(scenario, mesh: str, sight: Sight, ref: Ref, window: float) -> truth.Metrics:
    return truth.resource_metrics(scenario, mesh, ref, window, meshed_only=sight.kinds[ref.kind].callers_only)


def path_of(ref: Ref) -> str:
    if ref.kind == "Namespace":
        return f"{P}/namespaces/{ref.name}"
    return f"{P}/namespaces/{ref.namespace}/{PLURALS[ref.kind]}/{ref.name}"


def served(sight: Sight) -> list[str]:
    return [k for k in PLURALS if k in sight.kinds]
