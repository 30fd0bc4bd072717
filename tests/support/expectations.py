"""What the server must answer for the simulated scenario, per mesh: the table of what each mesh can
see (SIGHT) and the comparisons with tests/truth.py, shared by the conformance and kubectl suites."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from meshsim import VARIANTS
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
    hidden: frozenset[str] | None = frozenset()   # namespaces whose resources of this kind the series
                                                  # never name (None: every namespace), though served


def _as_named(name: str) -> str:
    return name


@dataclass(frozen=True)
class Sight:
    """What one mesh's series let the server see."""
    kinds: dict[str, Kind]
    cluster: bool = False      # cluster mode: an object the mesh never saw exists in Kubernetes (zeros, not 404)
    through_services: bool = False   # cluster mode, series naming Services (Consul, Kuma): a workload behind a
                                     # Service shared with another has no `from` edges and is a Service peer
    kind_blind: bool = False   # workload labels carry no kind: each workload is served under the kind its
                               # pod names show (KIND_FROM_POD_NAMES), peers too
    # how a name read back from series (lists, peers) is spelled; a requested name is answered as asked
    spelled: Callable[[str], str] = _as_named
    # namespaces where --local cannot read a kind-blind workload's kind from its pods' names (None: every
    # namespace): served as the default, Deployment. Istio ambient: the scraped pod is the waypoint's;
    # Hubble without *_workload_kind: no pod names are read at all
    kinds_unread: frozenset[str] | None = frozenset()
    # names the mesh writes like another object's (OSM: `c.d` and `c-d` are both `c_d`): their series are
    # one, so neither has numbers of its own to compare, and lists name them once
    merged: frozenset[str] = frozenset()

    def compared(self, name: str) -> bool:
        """Whether a name read back from the series is one whose numbers the suite compares."""
        return name not in {self.spelled(merged) for merged in self.merged}


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
        # Unmeshed callers never reach public_listener's HTTP stats (strict mTLS rejects them, permissive
        # mTLS passes them through a TCP chain).
        "Service": Kind(callers_only=True), "Namespace": Kind(callers_only=True),
        # upstream clusters name Services, never pods
        "Pod": Kind(edges=("to",), peers=SERVICE_PEERS, callers_only=True),
    }),
    "osm": Sight({   # only the calling sidecar records: unmeshed callers are invisible everywhere
        **{k: Kind(callers_only=True) for k in (*WORKLOADS, "ReplicaSet", "Pod", "Namespace")},
    }, spelled=lambda name: name.replace(".", "-"), merged=frozenset({"c.d", "c-d"})),   # `.` and `-` are both `_`
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


def _pods_hidden(sight: Sight, namespaces: frozenset[str] | None, **changes) -> Sight:
    """`sight` with the pods of `namespaces` (None: all) never named by the series."""
    return replace(sight, kinds={**sight.kinds, "Pod": replace(sight.kinds["Pod"], hidden=namespaces)}, **changes)


# Istio ambient / mixed: `pay` (mixed) or every namespace (ambient) is behind a waypoint, and the scraped
# namespace/pod of waypoint series are the waypoint's: the pods behind it are unseen (pods keep their
# edges where a sidecar reports them: the pack serves pods/edges).
WAYPOINTS = {"istio-ambient": None, "istio-mixed": frozenset({"pay"})}
# Variants whose sight differs from their mesh's default.
VARIANT_SIGHT: dict[str, Sight] = {
    **{variant: _pods_hidden(SIGHT["istio"], behind, kinds_unread=behind) for variant, behind in WAYPOINTS.items()},
    # without *_workload_kind, workloads are read kind-blind
    "cilium-nokind": replace(SIGHT["cilium"], kind_blind=True, kinds_unread=None),
}


def sight_of(variant: str) -> Sight:
    return VARIANT_SIGHT.get(variant) or SIGHT[VARIANTS[variant].mesh]

# With Kubernetes access (cluster mode, tests/support/kube_stub.py holds the scenario's objects): kinds
# come from the cluster, and where the series name pods and Services (Consul, Kuma) these are mapped to
# the workloads owning them (ownerReferences; EndpointSlices), so workloads get both edge directions and
# Service and pod peers become workloads. What stays blank is unobservable whatever the cluster says:
# OSM's and Cilium's series name no Service, Istio's no peer pod, Consul's and Kuma's upstream clusters
# no destination pod (a pod's callers are unknown), Consul's and Kuma's servers see no callers per pod.
WORKLOAD_PEERS = {"to": "workload"}


def _every_variant(meshes: dict[str, Sight]) -> dict[str, Sight]:
    """Each variant's cluster sight: its mesh's, except that the pods behind an Istio waypoint stay
    unmeasured whatever the cluster says (the waypoint's series name no pod behind it). Kuma's naming
    modes and counter spellings are read into the same labels, and its cluster views go through the pods
    (ownerReferences), so neither the naming mode nor what `kuma_workload` holds (ServiceAccount or a
    workload label) changes what a cluster sees; Hubble without *_workload_kind gets the kinds from the
    cluster's workloads, as Istio does."""
    waypoints = {variant: _pods_hidden(meshes["istio"], behind) for variant, behind in WAYPOINTS.items()}
    return {variant: waypoints.get(variant) or meshes[renderer.mesh] for variant, renderer in VARIANTS.items()}


CLUSTER_SIGHT: dict[str, Sight] = _every_variant({
    "linkerd": Sight(SIGHT["linkerd"].kinds, cluster=True),
    "istio": Sight(SIGHT["istio"].kinds, cluster=True),
    "consul": Sight(cluster=True, through_services=True, kinds={   # unmeshed callers never reach public_listener
        **{k: Kind(callers_only=True) for k in (*WORKLOADS, "ReplicaSet")},
        "Service": Kind(callers_only=True), "Namespace": Kind(callers_only=True),
        "Pod": Kind(edges=("to",), peers=WORKLOAD_PEERS, callers_only=True),
    }),
    "osm": replace(SIGHT["osm"], cluster=True),   # names read back are spelled as OSM writes them
    "kuma": Sight(cluster=True, through_services=True, kinds={
        **{k: Kind() for k in (*WORKLOADS, "ReplicaSet")}, "Namespace": Kind(),
        "Pod": Kind(edges=("to",), peers=WORKLOAD_PEERS),
        "Service": Kind(edges=("from",), peers={"from": "workload"}, callers_only=True),
    }),
    "cilium": Sight(SIGHT["cilium"].kinds, cluster=True),
})
MODES = {"local": SIGHT, "cluster": CLUSTER_SIGHT}

# --local, kind-blind meshes: the kind a workload's pod names show (docs/meshes.md): `<name>-<hash>-<5>`
# is a Deployment's pod, `<name>-<ordinal>` a StatefulSet's; DaemonSet and Job pods (`<name>-<5 chars>`)
# tell nothing, so those workloads are served as the packs' default, Deployment.
KIND_FROM_POD_NAMES = {"Deployment": "Deployment", "StatefulSet": "StatefulSet", "DaemonSet": "Deployment",
                       "Job": "Deployment"}


def quantity(text: str) -> float:
    suffix = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9}
    return float(text[:-1]) * suffix[text[-1]] if text[-1] in suffix else float(text)


# What the truth can promise, and so the tolerances (measured: across every conformance check the server
# agrees with the truth to ~1e-12 relative before formatting):
# - counts are whole requests, the increase rounded to the nearest integer (README); the truth is exact
#   (rps * window) and Prometheus' rate * seconds adds only float noise (~1e-12), so after rounding they are
#   equal, unless the truth sits on a half (then float noise decides): expected_count refuses that case.
# - every other value is a quantity truncated toward zero at 1/1000 (CONTRACT §3), so the server's value is
#   the truth minus [0, 0.001), give or take float noise on either side of a 1/1000 boundary.
FLOAT_NOISE = 1e-9   # relative; far above Prometheus' own float error, far below 1/1000
HALF_MARGIN = 1e-6


def expected_count(value: float, context: str) -> int:
    """The rounded count the server must answer for a true count of `value`."""
    assert abs(value % 1 - 0.5) > HALF_MARGIN, f"{context}: truth {value} sits on a half, rounding is ambiguous"
    return round(value)


def assert_truncated(got: float, value: float, context: str) -> None:
    """`got` is `value` truncated toward zero at 1/1000, up to float noise."""
    noise = FLOAT_NOISE * max(1.0, abs(value))
    assert -noise <= value - got < 0.001 + noise, f"{context}: {got}, truth {value} (truncated to 1/1000)"


def assert_matches(item, expected: truth.Metrics, context: str) -> None:
    got = {m["name"]: quantity(m["value"]) for m in item["metrics"]}
    for name, value in (("success_count", expected.success_count), ("failure_count", expected.failure_count)):
        assert got[name] == expected_count(value, f"{context} {name}"), f"{context}: {name} = {got[name]}, truth {value}"
    truncated = {
        "request_rate": expected.request_rate, "success_rate": expected.success_rate,
        # Percentiles are the mesh's own bucket interpolation, which truth repeats with the same buckets.
        "p50_response_latency": expected.p50, "p90_response_latency": expected.p90,
        "p99_response_latency": expected.p99,
    }
    if expected.success_rate is None:   # no requests in the window: the rate is omitted, not 0
        assert "success_rate" not in got, f"{context}: success_rate without requests"
        del truncated["success_rate"]
    for name, value in truncated.items():
        assert_truncated(got[name], value, f"{context} {name}")


def reported_kind(sight: Sight, kind: str, namespace: str | None = None) -> str:
    if not sight.kind_blind or kind not in WORKLOADS:
        return kind
    if sight.kinds_unread is None or namespace in sight.kinds_unread:
        return "Deployment"
    return KIND_FROM_POD_NAMES[kind]


def as_served(sight: Sight, ref: Ref) -> Ref:
    """The resource as the server names it (its kind as `reported_kind`)."""
    return Ref(reported_kind(sight, ref.kind, ref.namespace), ref.namespace, ref.name)


def edges_truth(scenario, mesh: str, sight: Sight, ref: Ref, window: float) -> list[truth.Edge]:
    """truth.edges at the sight's peer granularity; with `through_services`, a workload behind a Service in
    front of several workloads (the scenario's `c-d`, in front of `c.d` and `c-d`) is not told apart: it has
    no `from` edges, and as a `to` peer it is that Service (its flows together with the other workload's)."""
    peer_kinds = {d: peer_granularity(sight, ref, d) for d in BOTH}
    groups: dict[tuple[str, Ref], list] = {}
    for (direction, peer), flows in truth.edge_groups(scenario, ref, peer_kinds).items():
        if sight.through_services and direction == "to" and peer.kind in WORKLOADS and _shares_service(scenario, peer):
            peer = Ref("Service", peer.namespace, scenario.workload(peer.namespace, peer.name, peer.kind).service)
        groups.setdefault((direction, peer), []).extend(flows)
    if sight.through_services and ref.kind in WORKLOADS and _shares_service(scenario, ref):
        groups = {key: flows for key, flows in groups.items() if key[0] != "from"}
    return [truth.Edge(d, peer, truth.metrics_of(flows, mesh, window)) for (d, peer), flows in sorted(groups.items())]


def _shares_service(scenario, ref: Ref) -> bool:
    service = scenario.workload(ref.namespace, ref.name, ref.kind).service
    return sum((w.namespace, w.service) == (ref.namespace, service) for w in scenario.workloads) > 1


def peer_granularity(sight: Sight, ref: Ref, direction: str) -> str:
    granularity = sight.kinds[ref.kind].peers.get(direction, ref.kind)
    return granularity


def expected_peer(sight: Sight, peer: Ref) -> tuple:
    return (reported_kind(sight, peer.kind, peer.namespace), peer.namespace, sight.spelled(peer.name))


def observable(scenario, sight: Sight, ref: Ref) -> bool:
    """Does the mesh have series naming `ref`? Its callers' (all, or meshed only) or, when it serves
    `to` edges, its own outbound series (a pure client is listed with zero inbound traffic)."""
    kind = sight.kinds[ref.kind]
    if kind.hidden is None or ref.namespace in kind.hidden or ref.name in sight.merged:
        return False
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
