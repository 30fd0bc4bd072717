"""The simulator, backfilled into a real Prometheus, agrees with tests/truth.py.

Prometheus (queried through prometheus_api_client) is the oracle; the queries
here are written from the mesh documentation, independently of the server.
"""

from __future__ import annotations

import math
import time

import pytest
from prometheus_api_client import PrometheusConnect

from meshsim import RENDERERS, istio, linkerd
from meshsim.scenario import NO_RESPONSE, Flow, Outcome, Scenario, default_scenario, make_workload, scaled_scenario
from meshsim.store import PrometheusServer, write_scenario
from tests.support import truth
from tests.support.truth import Ref

WINDOWS = {"30s": 30, "1m": 60, "5m": 300}
RESOURCES = [
    Ref("Deployment", "shop", "web"),
    Ref("Deployment", "shop", "api"),
    Ref("StatefulSet", "shop", "db"),
    Ref("Deployment", "pay", "gateway"),
    Ref("StatefulSet", "pay", "ledger"),
    Ref("Deployment", "ops", "a.b"),
    Ref("Deployment", "ops", "axb"),
    Ref("Namespace", None, "shop"),
    Ref("Namespace", None, "pay"),
    Ref("Namespace", None, "ops"),
]
L5D_KIND = {"Deployment": "deployment", "StatefulSet": "statefulset", "DaemonSet": "daemonset", "Job": "k8s_job"}


@pytest.fixture(scope="module")
def prom(prometheus) -> PrometheusConnect:
    return PrometheusConnect(prometheus.url, disable_ssl=True)


def _pod_resources(scenario: Scenario) -> list[Ref]:
    return [Ref("Pod", "shop", scenario.workload("shop", "db").pods[1]), Ref("Pod", "shop", scenario.workload("shop", "web").pods[0])]


def server_selector(mesh: str, ref: Ref) -> str:
    """Server-side series of ``ref`` (Linkerd inbound, Istio reporter=destination)."""
    if mesh == "linkerd":
        sel = ['direction="inbound"']
        if ref.kind == "Namespace":
            sel.append(f'namespace="{ref.name}"')
        elif ref.kind == "Pod":
            sel += [f'namespace="{ref.namespace}"', f'pod="{ref.name}"']
        else:
            sel += [f'namespace="{ref.namespace}"', f'{L5D_KIND[ref.kind]}="{ref.name}"']
    else:
        sel = ['reporter="destination"']
        if ref.kind == "Namespace":
            sel.append(f'destination_workload_namespace="{ref.name}"')
        elif ref.kind == "Pod":
            sel += [f'namespace="{ref.namespace}"', f'pod="{ref.name}"']
        else:
            sel += [f'destination_workload_namespace="{ref.namespace}"', f'destination_workload="{ref.name}"']
    return ",".join(sel)


COUNTER = {"linkerd": "response_total", "istio": "istio_requests_total"}
BUCKET = {"linkerd": "response_latency_ms_bucket", "istio": "istio_request_duration_milliseconds_bucket"}
# Failures (docs/meshes.md): HTTP 5xx, no response, gRPC status 1-16. Each selector picks a disjoint set of
# series: Linkerd writes no status_code without a response, gRPC errors are HTTP 200 on both meshes.
FAILURES = {"linkerd": ('status_code=~"5.."', 'error!=""', 'grpc_status=~"[1-9]|1[0-6]"'),
            "istio": ('response_code=~"5..|0"', 'grpc_response_status=~"[1-9]|1[0-6]"')}


def scalar(prom: PrometheusConnect, query: str, at: float | None = None) -> float | None:
    params = {"time": at} if at is not None else None
    res = prom.custom_query(query, params=params)
    if not res:
        return None
    assert len(res) == 1, (query, res)
    return float(res[0]["value"][1])


def approx(x: float):
    # The scenario's counters grow by whole requests per step, so Prometheus' increase/rate and quantiles
    # equal the closed-form truth up to float noise: anything looser would hide an off-by-one.
    return pytest.approx(x, rel=1e-9, abs=1e-9)


# -- pure unit tests -------------------------------------------------------------


def test_histogram_quantile_hand_computed():
    bounds = (1, 2, 5, 10)
    # buckets: <=1: 2, (1,2]: 2, (2,5]: 4, (5,10]: 2, +Inf: 0  → cumulative 2,4,8,10,10
    cum = [2, 4, 8, 10, 10]
    assert truth.histogram_quantile(0.5, bounds, cum) == pytest.approx(2 + 3 * (1 / 4))  # rank 5
    assert truth.histogram_quantile(0.1, bounds, cum) == pytest.approx(0.5)  # first bucket from 0
    assert truth.histogram_quantile(0.9, bounds, cum) == pytest.approx(5 + 5 * 0.5)  # rank 9
    assert truth.histogram_quantile(0.4, bounds, cum) == pytest.approx(2.0)  # rank 4 exactly at a bound
    # rank in +Inf bucket → highest finite bound
    assert truth.histogram_quantile(0.99, bounds, [0, 0, 1, 1, 10]) == 10
    # empty buckets are skipped: all mass in (5,10]
    assert truth.histogram_quantile(0.5, bounds, [0, 0, 0, 4, 4]) == pytest.approx(7.5)
    # no traffic → 0
    assert truth.histogram_quantile(0.5, bounds, [0, 0, 0, 0, 0]) == 0
    assert truth.quantile_ties(0.4, cum) and not truth.quantile_ties(0.5, cum)


def test_truth_simple_flows():
    web = make_workload("n", "web", "Deployment", 1)
    api = make_workload("n", "api", "Deployment", 1)
    fl = Flow(web.pod_refs()[0], api.pod_refs()[0], 10, 0.1, (3, 30))
    sc = Scenario((web, api), (fl,), 0, 600)
    m = truth.resource_metrics(sc, "linkerd", Ref("Deployment", "n", "api"), 60)
    assert (m.success_count, m.failure_count, m.request_rate) == pytest.approx((540, 60, 10))
    assert m.success_rate == pytest.approx(0.9)
    # linkerd: 300 in (2,3], 300 in (20,30]; p50 rank 300 → 3; p90 rank 540 → 20 + 10*240/300
    assert m.p50 == pytest.approx(3) and m.p90 == pytest.approx(28)
    none = truth.resource_metrics(sc, "linkerd", Ref("Deployment", "n", "web"), 60)
    assert none == truth.Metrics(0, 0, 0, None, 0, 0, 0)   # no requests: no success rate (CONTRACT §3)
    [e] = truth.edges(sc, "istio", Ref("Deployment", "n", "web"), 60)
    assert e.direction == "to" and e.peer == Ref("Deployment", "n", "api") and e.metrics.total == 600


def test_scenario_shape():
    sc = default_scenario(now=1_700_000_005)
    assert sc.start == 1_700_000_000 - 1200 and sc.end == 1_700_000_000 + 3600 and sc.step == 10
    db = sc.workload("shop", "db")
    assert db.kind == "StatefulSet" and db.pods == ("db-0", "db-1")
    web = sc.workload("shop", "web")
    assert len(web.pods) == 2 and all(p.startswith(f"web-{web.pod_template_hash}-") for p in web.pods)
    ab, axb = sc.workload("ops", "a.b"), sc.workload("ops", "axb")
    assert ab.pods[0].startswith("a.b-") and not axb.pods[0].startswith("a.b")
    assert sc.workload("ops", "agent").kind == "DaemonSet" and sc.workload("ops", "backup").kind == "Job"
    assert default_scenario(now=1_700_000_005) == sc  # deterministic
    for fl in sc.flows:
        n, f = fl.per_step(sc.step)
        cells = fl.cells(sc.step)
        assert sum(sum(counts.values()) for _, counts in cells) == n
        assert sum(counts.get(Outcome(500), 0) for _, counts in cells) == f
        assert {o for _, counts in cells for o in counts} == set(fl.outcomes(sc.step))
        assert len({sum(counts.values()) for _, counts in cells}) == 1   # uniform over the latencies
    outcomes = {o for fl in sc.flows for o in fl.outcomes(sc.step)}
    assert {Outcome(200), Outcome(500), Outcome(NO_RESPONSE), Outcome(200, 0), Outcome(200, 14)} <= outcomes
    assert len(scaled_scenario(23).flows) == 23


def test_no_quantile_ties_in_default_scenario():
    """Quantile ranks never sit on a bucket boundary, so float noise cannot flip results."""
    sc = default_scenario()
    for mesh in RENDERERS:
        for desc, flows in truth.all_flow_sets(sc):
            cum = truth.bucket_counts(flows, truth.buckets(mesh), 60)
            for q in truth.QUANTILES:
                assert not truth.quantile_ties(q, cum), (mesh, q, desc)


def test_integrality_is_enforced():
    w = make_workload("n", "w", "Deployment", 1)
    with pytest.raises(ValueError):
        Scenario((w,), (Flow(None, w.pod_refs()[0], 1, 0.01, (1.0,)),), 0, 100)


# -- against Prometheus -------------------------------------------------------------


@pytest.mark.parametrize("mesh", list(COUNTER))  # the meshes these hand-written queries cover
@pytest.mark.parametrize("window", list(WINDOWS))
def test_resource_counts(prom, scenario, mesh, window):
    w = WINDOWS[window]
    at = time.time()
    for ref in RESOURCES + _pod_resources(scenario):
        want = truth.resource_metrics(scenario, mesh, ref, w)
        sel = server_selector(mesh, ref)
        total = scalar(prom, f"sum(increase({COUNTER[mesh]}{{{sel}}}[{window}]))", at)
        failed = sum(scalar(prom, f"sum(increase({COUNTER[mesh]}{{{sel},{failure}}}[{window}]))", at) or 0.0
                     for failure in FAILURES[mesh])
        rate = scalar(prom, f"sum(rate({COUNTER[mesh]}{{{sel}}}[{window}]))", at)
        assert want.total > 0, ref
        assert total == approx(want.total), (mesh, ref)
        assert failed == approx(want.failure_count), (mesh, ref)
        assert total - failed == approx(want.success_count), (mesh, ref)
        assert rate == approx(want.request_rate), (mesh, ref)


@pytest.mark.parametrize("mesh", list(COUNTER))  # the meshes these hand-written queries cover
@pytest.mark.parametrize("window", list(WINDOWS))
def test_resource_quantiles(prom, scenario, mesh, window):
    w = WINDOWS[window]
    at = scenario.start + 20 * 60 + 7  # not aligned to the scrape step
    for ref in RESOURCES + _pod_resources(scenario):
        want = truth.resource_metrics(scenario, mesh, ref, w)
        sel = server_selector(mesh, ref)
        for q, expect in zip(truth.QUANTILES, (want.p50, want.p90, want.p99)):
            got = scalar(prom, f"histogram_quantile({q}, sum by (le) (rate({BUCKET[mesh]}{{{sel}}}[{window}])))", at)
            assert got == approx(expect), (mesh, ref, q)


def test_plus_inf_quantile_is_top_bound(prom, scenario):
    """backup→db has a 70 s latency: Linkerd p99 lands in +Inf → 50000, Istio in (60000, 300000]."""
    ref = Ref("Job", "ops", "backup")
    [edge] = truth.edges(scenario, "linkerd", ref, 300)
    assert edge.metrics.p99 == linkerd.BUCKETS_MS[-1]
    got = scalar(prom, 'histogram_quantile(0.99, sum by (le) (rate(response_latency_ms_bucket{direction="outbound",namespace="ops",k8s_job="backup"}[5m])))')
    assert got == approx(linkerd.BUCKETS_MS[-1])
    [iedge] = truth.edges(scenario, "istio", ref, 300)
    got = scalar(prom, 'histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{reporter="source",source_workload_namespace="ops",source_workload="backup"}[5m])))')
    assert 60000 < iedge.metrics.p99 < 300000 and got == approx(iedge.metrics.p99)


def _edge_query(mesh: str, ref: Ref, direction: str, window: str) -> tuple[str, callable]:
    """Per-peer totals of ``ref``'s edges, and a function labels → peer Ref."""
    if mesh == "linkerd":
        kl = L5D_KIND[ref.kind]
        if direction == "to":
            q = f'sum by (dst_namespace, dst_deployment, dst_statefulset, dst_daemonset, dst_k8s_job) (increase(response_total{{direction="outbound",namespace="{ref.namespace}",{kl}="{ref.name}"}}[{window}]))'

            def peer(m):
                [(k, v)] = [(k, v) for k, v in m.items() if k != "dst_namespace"]
                return Ref({v: k for k, v in L5D_KIND.items()}[k[4:]], m["dst_namespace"], v)
        else:
            q = f'sum by (namespace, deployment, statefulset, daemonset, k8s_job) (increase(response_total{{direction="outbound",dst_namespace="{ref.namespace}",dst_{kl}="{ref.name}"}}[{window}]))'

            def peer(m):
                [(k, v)] = [(k, v) for k, v in m.items() if k != "namespace"]
                return Ref({v: k for k, v in L5D_KIND.items()}[k], m["namespace"], v)
    else:
        if direction == "to":
            q = f'sum by (destination_workload_namespace, destination_workload) (increase(istio_requests_total{{reporter="source",source_workload_namespace="{ref.namespace}",source_workload="{ref.name}"}}[{window}]))'
            key = ("destination_workload_namespace", "destination_workload")
        else:
            q = f'sum by (source_workload_namespace, source_workload) (increase(istio_requests_total{{reporter="destination",destination_workload_namespace="{ref.namespace}",destination_workload="{ref.name}",source_workload!="unknown"}}[{window}]))'
            key = ("source_workload_namespace", "source_workload")

        def peer(m):  # Istio has no kind label: the scenario knows it
            return m[key[0]], m[key[1]]

    return q, peer


@pytest.mark.parametrize("mesh", list(COUNTER))  # the meshes these hand-written queries cover
@pytest.mark.parametrize("window", ["1m", "5m"])
def test_edges(prom, scenario, mesh, window):
    w = WINDOWS[window]
    refs = [r for r in RESOURCES if r.kind != "Namespace"] + [Ref("DaemonSet", "ops", "agent"), Ref("Job", "ops", "backup")]
    for ref in refs:
        want = {(e.direction, e.peer): e.metrics for e in truth.edges(scenario, mesh, ref, w)}
        got = {}
        for direction in ("to", "from"):
            q, peer = _edge_query(mesh, ref, direction, window)
            for row in prom.custom_query(q):
                p = peer(row["metric"])
                if isinstance(p, tuple):
                    p = Ref(scenario.workload(*p).kind, *p)
                got[(direction, p)] = float(row["value"][1])
        assert set(got) == set(want), (mesh, ref)
        for k, m in want.items():
            assert got[k] == approx(m.total), (mesh, ref, k)


@pytest.mark.parametrize("mesh", list(COUNTER))  # the meshes these hand-written queries cover
def test_mean_latency_from_sum_and_count(prom, scenario, mesh):
    """_sum and _count are consistent with the latency sets; _count == +Inf bucket."""
    ref = Ref("Deployment", "shop", "api")
    flows = truth.inbound_flows(scenario, ref)
    mean = sum(f.rps * sum(f.latencies_ms) / len(f.latencies_ms) for f in flows) / sum(f.rps for f in flows)
    name = BUCKET[mesh][: -len("_bucket")]
    sel = server_selector(mesh, ref)
    got = scalar(prom, f"sum(rate({name}_sum{{{sel}}}[5m])) / sum(rate({name}_count{{{sel}}}[5m]))")
    assert got == approx(mean)
    mismatch = prom.custom_query(f'{name}_count{{{sel}}} != ignoring(le) {name}_bucket{{{sel},le="+Inf"}}')
    assert mismatch == []
    assert scalar(prom, f'count({name}_count{{{sel}}})') == scalar(prom, f'count({name}_bucket{{{sel},le="+Inf"}})')


def test_bucket_le_formatting(prom):
    les = {r["metric"]["le"] for r in prom.custom_query("count by (le) (response_latency_ms_bucket)")}
    assert les == {str(int(b)) for b in linkerd.BUCKETS_MS} | {"+Inf"}
    les = {r["metric"]["le"] for r in prom.custom_query("count by (le) (istio_request_duration_milliseconds_bucket)")}
    assert les == {"0.5"} | {str(int(b)) for b in istio.BUCKETS_MS[1:]} | {"+Inf"}


@pytest.mark.parametrize("mesh", list(COUNTER))  # the meshes these hand-written queries cover
def test_idle_series_exist_with_zero_increase(prom, mesh):
    sel = server_selector(mesh, Ref("Deployment", "shop", "idle"))
    assert scalar(prom, f"count({COUNTER[mesh]}{{{sel}}})") >= 1
    assert scalar(prom, f"min({COUNTER[mesh]}{{{sel}}})") > 0  # non-zero initial value
    assert scalar(prom, f"count({BUCKET[mesh]}{{{sel}}})") >= len(RENDERERS[mesh].BUCKETS_MS) + 1
    for window in WINDOWS:
        assert scalar(prom, f"sum(increase({COUNTER[mesh]}{{{sel}}}[{window}]))") == 0
        # no traffic: histogram_quantile is NaN in Prometheus (truth and the contract say 0)
        got = scalar(prom, f"histogram_quantile(0.5, sum by (le) (rate({BUCKET[mesh]}{{{sel}}}[{window}])))")
        assert got is None or math.isnan(got)


def test_unmeshed_caller_only_on_server_side(prom, scenario):
    # Linkerd: unmeshed traffic is only on inbound series, without client_id
    rows = prom.custom_query('count by (direction) (response_total{tls="no_identity"})')
    assert [r["metric"]["direction"] for r in rows] == ["inbound"]
    assert prom.custom_query('response_total{tls="no_identity",client_id!=""}') == []
    inbound_web = scalar(prom, 'sum(increase(response_total{direction="inbound",namespace="shop",deployment="web"}[5m]))')
    outbound_web = scalar(prom, 'sum(increase(response_total{direction="outbound",dst_namespace="shop",dst_deployment="web"}[5m]))')
    meshed = sum(f.rps for f in scenario.flows if f.source is not None and f.destination.workload.name == "web") * 300
    assert outbound_web == approx(meshed) and inbound_web == approx(meshed + 2 * 20 * 300)
    # Istio: only reporter="destination" with source_workload="unknown"
    rows = prom.custom_query('count by (reporter, source_workload_namespace) (istio_requests_total{source_workload="unknown"})')
    assert {(r["metric"]["reporter"], r["metric"]["source_workload_namespace"]) for r in rows} == {("destination", "unknown")}
    dest = scalar(prom, 'sum(increase(istio_requests_total{reporter="destination",destination_workload_namespace="shop",destination_workload="web"}[5m]))')
    src = scalar(prom, 'sum(increase(istio_requests_total{reporter="source",destination_workload_namespace="shop",destination_workload="web"}[5m]))')
    assert src == approx(meshed) and dest == approx(meshed + 2 * 20 * 300)


def test_istio_reporter_labels_describe_reporting_pod(prom, scenario):
    web_pods = set(scenario.workload("shop", "web").pods)
    api_pods = set(scenario.workload("shop", "api").pods)
    base = 'istio_requests_total{source_workload="web",destination_workload="api"'
    assert {r["metric"]["pod"] for r in prom.custom_query(base + ',reporter="source"}')} == web_pods
    assert {r["metric"]["pod"] for r in prom.custom_query(base + ',reporter="destination"}')} == api_pods


def test_a_b_and_axb_are_distinct(prom):
    for mesh, lab in (("linkerd", "deployment"), ("istio", "destination_workload")):
        rows = prom.custom_query(f'count by ({lab}) ({COUNTER[mesh]}{{namespace="ops",{lab}=~"a.b"}})')
        assert {r["metric"][lab] for r in rows} == {"a.b", "axb"}  # a regex would match both
        rows = prom.custom_query(f'count by ({lab}) ({COUNTER[mesh]}{{namespace="ops",{lab}="a.b"}})')
        assert {r["metric"][lab] for r in rows} == {"a.b"}


def test_restart_same_port(tmp_path):
    """write_scenario + PrometheusServer stop()/start() on the same port keeps the data."""
    a = make_workload("t", "a", "Deployment", 1)
    b = make_workload("t", "b", "StatefulSet", 1)
    now = int(time.time()) // 10 * 10
    sc = Scenario((a, b), (Flow(a.pod_refs()[0], b.pod_refs()[0], 1, 0.0, (5.0,)),), now - 600, now + 600)
    write_scenario(sc, RENDERERS, tmp_path)
    q = 'sum(increase(response_total{direction="inbound",namespace="t",statefulset="b"}[1m]))'
    with PrometheusServer(tmp_path) as server:
        port = server.port
        assert scalar(PrometheusConnect(server.url, disable_ssl=True), q) == approx(60)
        server.stop()
        assert not server.running
        server.start()
        assert server.port == port and server.running
        assert scalar(PrometheusConnect(server.url, disable_ssl=True), q) == approx(60)
    assert not server.running
    assert (tmp_path / "prometheus.log").stat().st_size > 0
