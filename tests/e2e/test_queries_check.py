"""`queries check` diagnoses a mesh's prerequisites from its series: each misconfiguration, rendered by the
simulator's variants into a real Prometheus, is reported; a well-configured mesh gets no warning."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest

from meshsim import Renderer
from meshsim.scenario import Flow, Protocol, Scenario, make_workload
from meshsim.store import PrometheusServer, write_scenario
from tests.e2e.test_mesh_tools import queries

# Deliberately misconfigured: Consul CE with a service left at protocol tcp, Kuma proxies scraped by two
# pipelines (with and without _total) in both naming modes with kuma_workload = a shared ServiceAccount,
# Hubble without kinds, Istio ambient.
MISCONFIGURED = (
    Renderer("consul-ce-tcp", "consul", {"mirroring": False, "tcp_services": frozenset({"db"})}),
    Renderer("kuma-legacy", "kuma", {"unified": False}),
    Renderer("kuma-unified-otlp", "kuma", {"total": True, "zone": "zone-1", "workload_label": "app"}),
    "cilium-nokind",
    "istio-ambient",
)
# As the packs want them: Consul Enterprise mirroring namespaces, protocol http everywhere; one Kuma
# pipeline, workload labels configured; Hubble with kinds; Istio sidecars.
CONFIGURED = ("consul", "kuma-unified-otlp", "cilium", "istio")


def check_scenario() -> Scenario:
    """Two workloads share the ServiceAccount `default`; `db` is the service left at protocol tcp."""
    web = make_workload("t", "web-app", "Deployment", 1)
    api = make_workload("t", "api", "StatefulSet", 1)
    db = make_workload("t", "db", "Deployment", 1)
    web, api = (replace(w, service_account_name="default") for w in (web, api))
    now = int(time.time()) // 10 * 10
    [w], [a], [d] = web.pod_refs(), api.pod_refs(), db.pod_refs()
    flows = (Flow(w, a, 1, 0.0, (5.0,)), Flow(w, d, 1, 0.0, (5.0,)), Flow(None, w, 1, 0.0, (5.0,)),
             Flow(w, a, 1, 0.0, (5.0,), protocol=Protocol.GRPC, grpc_statuses=((5, 0.1),)))
    return Scenario((web, api, db), flows, now - 600, now + 1200)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    scenario, started = check_scenario(), {}
    try:
        for name, variants in (("misconfigured", MISCONFIGURED), ("configured", CONFIGURED)):
            data = tmp_path_factory.mktemp(name)
            write_scenario(scenario, variants, data)
            started[name] = PrometheusServer(data).start()
        yield started
    finally:
        for server in started.values():
            server.stop()


def check(stores, which: str, mesh: str) -> str:
    done = queries("check", "--prometheus-url", stores[which].url, "--mesh", mesh)
    # findings are advice: the exit code still only says whether the pack's metrics and queries work
    assert done.returncode == 0, done.stdout + done.stderr
    assert "failures: " in done.stdout
    return done.stdout


def test_consul_tcp_services_and_ce_namespaces(stores):
    bad = check(stores, "misconfigured", "consul")
    assert "1 service(s) export no HTTP stats (protocol tcp): t/db" in bad
    assert "every Consul namespace is `default`" in bad
    good = check(stores, "configured", "consul")
    assert "protocol tcp" not in good and "namespace is `default`" not in good and "warn" not in good


def test_kuma_naming_pipelines_and_service_accounts(stores):
    bad = check(stores, "misconfigured", "kuma")
    assert "inbound naming: legacy and unified" in bad
    assert "counters stored as both envoy_http_downstream_rq_xx and envoy_http_downstream_rq_xx_total" in bad
    assert "outbound clusters: 2 legacy, 2 unified (KRI)" in bad
    assert "kuma_workload looks like a ServiceAccount for 1 of 4 workload(s): t/default" in bad
    good = check(stores, "configured", "kuma")
    assert "inbound naming: unified" in good and "counters with _total" in good
    assert "ServiceAccount" not in good and "warn" not in good


def test_hubble_without_workload_kinds(stores):
    assert "Hubble without workload kinds" in check(stores, "misconfigured", "cilium")
    good = check(stores, "configured", "cilium")
    assert "Hubble workload kinds present" in good and "warn" not in good


def test_istio_ambient_waypoints(stores):
    assert "ambient waypoints report server-side numbers" in check(stores, "misconfigured", "istio")
    assert "waypoint" not in check(stores, "configured", "istio").split("failures: ")[1]
