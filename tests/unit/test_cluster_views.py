"""What the series identify, mapped without Prometheus: pack `cluster.kinds` and `workload_pods`, the
planner's bucket queries, pods and Services given to their workloads, quantiles from summed buckets, the
ownership index built from Kubernetes objects, and --local kinds from pod names. Expected values are
written out here or come from independent code (tests/support/truth.py, meshsim's pod names)."""
from __future__ import annotations

import asyncio
import math

import pytest
import yaml

from meshsim.scenario import default_scenario, make_workload
from metrics_api.core.errors import ApiError
from metrics_api.core.kinds import BY_PLURAL, WORKLOAD_KINDS
from metrics_api.core.model import Direction, Measure, Ref, Row, Target
from metrics_api.kube.client import KubeError
from metrics_api.kube.owners import Ownership
from metrics_api.kube.workloads import WorkloadLookup
from metrics_api.pipeline.kinds import through_owners, with_kinds
from metrics_api.pipeline.normalize import normalize
from metrics_api.pipeline.plan import plan
from metrics_api.pipeline.podnames import kind_of_pod, kinds_from_pods
from metrics_api.pipeline.quantile import bucket_quantile, with_quantiles
from tests.support import truth
from tests.support.catalog import packs
from tests.support.kube_stub import objects_of, owner_reference
from tests.support.packcheck import assert_rejected

CONSUL = packs.load("consul")
INF = math.inf


def target(plural: str, name: str | None = None, edges: bool = False, namespace: str | None = "shop") -> Target:
    return Target(plural, (BY_PLURAL[plural],), namespace, name, edges, 60.0)


def sample(value: str, **labels: str) -> dict:
    return {"metric": labels, "value": [1.7e9, value]}


# -- the packs -------------------------------------------------------------------------------------

def test_workload_kinds_of_consul_exist_with_kubernetes_access_only():
    assert "deployments" not in CONSUL.kinds
    cluster = CONSUL.for_cluster()
    assert {"deployments", "statefulsets", "daemonsets", "jobs", "replicasets"} <= set(cluster.kinds)
    view = cluster.kinds["deployments"]
    assert (view.resource.self.identifies, view.edges[Direction.TO].self.identifies,
            view.edges[Direction.FROM].self.identifies) == ("Pod", "Pod", "Service")


def kindless_reads(pack, request: Target) -> dict[str, set[str]]:
    """Which of the request's queries (by kind) read Hubble series without `*_workload_kind`."""
    reads: dict[str, set[str]] = {}
    for query in plan(pack, request):
        kindless = f'_workload_kind=~"{query.kind.name}|"' in query.promql   # destination_ or source_
        reads.setdefault(query.kind.name, set()).add(kindless)
    return reads


def test_hubble_series_without_kinds_are_read_for_the_kind_asked_with_kubernetes_access():
    """--local: only as Deployments (one kind per workload); with Kubernetes access a single kind asked
    reads them too (the cluster's kinds drop the workloads of another kind), several kinds read them once."""
    cilium = packs.load("cilium")
    ledger = target("statefulsets", "ledger", namespace="pay")
    everything = Target("trafficmetrics", WORKLOAD_KINDS, "pay", None, False, 60.0)
    assert kindless_reads(cilium, ledger) == {"StatefulSet": {False}}
    assert kindless_reads(cilium.for_cluster(), ledger) == {"StatefulSet": {True}}
    assert kindless_reads(cilium.for_cluster(), everything) == {"Deployment": {True}, "StatefulSet": {False},
                                                                 "DaemonSet": {False}, "Job": {False}}


@pytest.fixture
def consul_document():
    return yaml.safe_load((packs.directory / "consul.yaml").read_text())


@pytest.mark.parametrize("mutate, key, problem", [
    (lambda d: d["kinds"]["pods"]["resource"]["self"].update(identifies="Pod"),
     "kinds.pods.resource.self.identifies", "only views under cluster.kinds"),
    (lambda d: d["cluster"]["kinds"].update(jobs={"resource": {"source": "server", "self": {
        "namespace": "namespace", "name": "pod", "identifies": "Node"}}}),
     "cluster.kinds.jobs.resource.self.identifies", "must be one of Pod, Service"),
    (lambda d: d["sources"]["server"].update(latency="max by ({{by}}) (x{ {{selector}} }[{{window}}]) * {{quantile}}"),
     "sources.server.latency", "histogram_quantile"),
    (lambda d: d.update(workload_pods=[{"source": "server", "self": {"namespace": "namespace", "name": "pod"},
                                        "pod": "pod", "default": "Pod"}]),
     "workload_pods[0].default", "must be a workload kind"),
    (lambda d: d.update(workload_pods={"source": "server"}), "workload_pods", "must be a list"),
])
def test_invalid_cluster_declarations_name_file_key_and_problem(consul_document, mutate, key, problem):
    assert_rejected(consul_document, mutate, key, problem)


# -- the planner -----------------------------------------------------------------------------------

def test_a_view_of_pods_reads_buckets_and_the_whole_namespace():
    cluster = CONSUL.for_cluster()
    planned = plan(cluster, target("deployments", "web"))
    assert [(q.direction, q.measure) for q in planned] == [("", "counts"), ("", "buckets"), ("", "presence")]
    counts, buckets, _ = planned
    assert 'namespace="shop"' in counts.promql and 'pod!=""' in counts.promql and '"web"' not in counts.promql
    assert buckets.promql.startswith("sum by (le, namespace, pod) (rate(envoy_http_downstream_rq_time_bucket{")


# -- pods and Services given to their workloads ----------------------------------------------------

WEB = Ref("shop", "web", "Deployment")
API = Ref("shop", "api", "Deployment")
DB = Ref("shop", "db", "StatefulSet")
OWNERS = {
    ("Pod", "web-1"): WEB, ("Pod", "web-2"): WEB, ("Pod", "api-1"): API, ("Service", "api"): API,
    ("Service", "web"): WEB, ("Service", "db"): DB,
}


def owner(ref: Ref) -> Ref | None:
    return OWNERS.get((ref.kind, ref.name))


def pod_row(pod: str, success: float, failure: float, buckets: dict[float, float], peer: Ref | None = None,
            direction: Direction = Direction.RESOURCE) -> Row:
    return Row(Ref("shop", pod, "Pod"), direction, peer, success, failure, buckets=dict(buckets))


def test_pods_add_up_into_their_workload_counts_and_buckets():
    rows = [pod_row("web-1", 10, 1, {10: 4, 100: 10, INF: 11}), pod_row("web-2", 20, 0, {10: 2, 100: 20, INF: 20}),
            pod_row("api-1", 5, 5, {10: 10, INF: 10}), pod_row("stray-1", 7, 0, {INF: 7})]
    [api, web] = through_owners(target("deployments"), rows, owner)
    assert (web.resource, web.success, web.failure, web.buckets) == (WEB, 30, 1, {10: 6, 100: 30, INF: 31})
    assert (api.resource, api.success) == (API, 5)   # the pod nobody owns is nobody's traffic
    assert through_owners(target("deployments", "api"), rows, owner)[0].resource == API
    assert through_owners(target("statefulsets"), rows, owner) == []


def test_service_peers_become_the_workload_behind_them_unless_it_cannot_be_told():
    rows = [pod_row("web-1", 3, 0, {INF: 3}, Ref("shop", "api", "Service"), Direction.TO),
            pod_row("web-2", 4, 0, {INF: 4}, Ref("shop", "api", "Service"), Direction.TO),
            pod_row("web-1", 1, 0, {INF: 1}, Ref("shop", "shared", "Service"), Direction.TO)]
    [to_api, to_shared] = through_owners(target("deployments", "web", edges=True), rows, owner)
    assert (to_api.resource, to_api.peer, to_api.success) == (WEB, API, 7)
    assert to_shared.peer == Ref("shop", "shared", "Service")   # several workloads (or none) behind it
    # A Service as the resource (a `from` view) is given to its one workload; a pod peer to its owner.
    from_rows = [Row(Ref("shop", "db", "Service"), Direction.FROM, Ref("shop", "api-1", "Pod"), 8, 2)]
    [row] = through_owners(target("statefulsets", "db", edges=True), from_rows, owner)
    assert (row.resource, row.peer, row.success, row.failure) == (DB, API, 8, 2)


def test_quantiles_from_summed_buckets_are_prometheus_histogram_quantile():
    bounds = (0.5, 1, 5, 10, 25, 50, 100, 250)
    cases = [(2, 3, 3, 40, 80, 90, 95, 99, 100), (0, 0, 0, 0, 0, 0, 0, 0, 7), (5, 5, 5, 5, 5, 5, 5, 5, 5),
             (0, 10, 10, 10, 10, 10, 10, 10, 10), (1, 1, 1, 1, 1, 1, 1, 1, 2)]
    for cumulative in cases:
        buckets = dict(zip((*bounds, INF), map(float, cumulative)))
        for q in (0.5, 0.9, 0.99):   # tests/support/truth.py is Prometheus' bucketQuantile, written apart
            assert bucket_quantile(q, buckets.items()) == pytest.approx(truth.histogram_quantile(q, bounds, cumulative))
    assert math.isnan(bucket_quantile(0.5, [(10, 0.0), (INF, 0.0)]))     # no requests
    assert math.isnan(bucket_quantile(0.5, [(10, 1.0), (100, 2.0)]))     # no +Inf bucket
    [row] = with_quantiles([Row(WEB, Direction.RESOURCE, None, buckets={0.01: 5.0, 0.1: 10.0, INF: 10.0})], 1000)
    assert row.latency_ms == {Measure.P99: pytest.approx(98.2), Measure.P90: pytest.approx(82.0),
                              Measure.P50: pytest.approx(10.0)} and row.buckets == {}


def test_bucket_rows_come_from_the_le_label_of_pod_series():
    cluster = CONSUL.for_cluster()
    planned = plan(cluster, target("deployments", "web"))
    results = [[sample("3", namespace="shop", pod="web-1", envoy_response_code_class="2")],
               [sample("1", namespace="shop", pod="web-1", le="10"), sample("2", namespace="shop", pod="web-1", le="+Inf"),
                sample("2", namespace="shop", pod="web-1", le="1.8e+06")],
               []]
    [row] = normalize(cluster, planned, results)
    assert (row.resource, row.success, row.buckets) == (Ref("shop", "web-1", "Pod"), 3, {10: 1, 1.8e6: 2, INF: 2})


# -- the ownership index ---------------------------------------------------------------------------

class FakeKube:
    """Lists from in-memory objects, two items per page."""

    def __init__(self, objects: dict[str, list]) -> None:
        self.objects = objects

    async def get(self, path: str, **query: str) -> dict:
        items = self.objects[path.rsplit("/", 1)[-1]]
        start = int(query.get("continue", 0))
        more = {"continue": str(start + 2)} if start + 2 < len(items) else {}
        return {"metadata": more, "items": items[start:start + 2]}


def test_pods_and_services_are_owned_by_the_workloads_kubernetes_says():
    scenario = default_scenario(now=1_700_000_000)
    objects = objects_of(scenario)
    bare = {"metadata": {"name": "solo-x2bdz", "namespace": "ops",
                         "ownerReferences": [owner_reference("ReplicaSet", "ops", "solo")]}}
    orphan = {"metadata": {"name": "orphan", "namespace": "ops"}}
    objects["pods"] += [bare, orphan]
    owners = asyncio.run(Ownership(FakeKube(objects)).owners())   # type: ignore[arg-type]
    services = [(w.namespace, w.service) for w in scenario.workloads]
    for workload in scenario.workloads:
        expected = Ref(workload.namespace, workload.name, workload.kind)
        assert {owners.of_pod(workload.namespace, pod) for pod in workload.pods} == {expected}
        # a Service in front of several workloads (ops/c-d: c.d and c-d) belongs to none of them
        shared = services.count((workload.namespace, workload.service)) > 1
        assert owners.behind_service(workload.namespace, workload.service) == (None if shared else expected)
    assert owners.of_pod("ops", "solo-x2bdz") == Ref("ops", "solo", "ReplicaSet")   # a bare ReplicaSet
    assert owners.of_pod("ops", "orphan") is None and owners.behind_service("ops", "nothing") is None


# -- --local: kinds from pod names -----------------------------------------------------------------

@pytest.mark.parametrize("kind, expected", [
    ("Deployment", "Deployment"), ("StatefulSet", "StatefulSet"), ("DaemonSet", None), ("Job", None)])
def test_pod_names_show_deployments_and_statefulsets(kind, expected):
    workload = make_workload("shop", "web-v2", kind, 12)   # meshsim names pods as the controllers do
    assert {kind_of_pod(workload.name, pod) for pod in workload.pods} == {expected}
    assert {kind_of_pod("api", pod) for pod in workload.pods} == {None}   # another workload's pods


def test_each_workload_gets_one_kind_from_its_pods():
    declaration = packs.load("istio").workload_pods[0]
    series = [sample("1", destination_workload_namespace="shop", destination_workload=w, pod=p)
              for w, p in [("web", "web-5qgm97jj5r-62w4w"), ("db", "db-0"), ("db", "db-1"), ("agent", "agent-6958t"),
                           ("odd", "odd-0"), ("odd", "odd-bcdfg2-bcdfg")]]
    kinds = kinds_from_pods((declaration,), [series])
    assert kinds == {("shop", "web"): ["Deployment"], ("shop", "db"): ["StatefulSet"],
                     ("shop", "agent"): ["Deployment"], ("shop", "odd"): ["Deployment"]}
    rows = [Row(Ref("shop", name, "StatefulSet"), Direction.RESOURCE, None) for name in ("db", "web", "unseen")]
    assert [r.resource.name for r in with_kinds(target("statefulsets"), rows, kinds)] == ["db"]


class Unreachable:
    async def owners(self):
        raise KubeError(0, "Kubernetes API unreachable: ConnectionRefusedError")


def test_pods_that_cannot_be_mapped_are_a_503_not_wrong_numbers():
    lookup = WorkloadLookup(None, Unreachable(), CONSUL.for_cluster())   # type: ignore[arg-type]
    rows = [pod_row("web-1", 1, 0, {INF: 1})]
    with pytest.raises(ApiError) as caught:
        asyncio.run(lookup.refine(target("deployments"), rows))
    assert caught.value.code == 503 and "unreachable" in caught.value.message
    pods = [Row(Ref("shop", "web-1", "Pod"), Direction.RESOURCE, None, 1)]
    assert asyncio.run(lookup.refine(target("pods"), pods)) == pods   # nothing to map: no Kubernetes call
