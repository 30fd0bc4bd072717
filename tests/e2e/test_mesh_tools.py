"""`--mesh auto` on each mesh's own data and on mixed data, `queries check|render`, the pack language's
extensions (kind labels, encoded values, derived labels, {{seconds}}) and user pack overrides."""
from __future__ import annotations

import asyncio
import copy
import subprocess
import sys
import time

import pytest
import yaml

from meshsim import RENDERERS
from meshsim.scenario import Flow, Scenario, make_workload
from meshsim.store import PrometheusServer, write_scenario
from meshsim.victoria import VictoriaMetricsServer
from metrics_api.apis.smi import API_PREFIX
from metrics_api.core.kinds import BY_PLURAL
from metrics_api.core.model import Target
from metrics_api.packs.catalog import Catalog
from metrics_api.packs.detect import DetectionError, Detector
from metrics_api.packs.model import PackError
from metrics_api.pipeline.plan import plan
from metrics_api.store.prometheus import PrometheusClient
from tests.support.catalog import packs
from tests.support.packcheck import assert_rejected
from tests.support.serverproc import REPO, ServerProcess


def small_scenario() -> Scenario:
    web, api = make_workload("t", "web-app", "Deployment", 1), make_workload("t", "api", "StatefulSet", 1)
    now = int(time.time()) // 10 * 10
    flows = (Flow(web.pod_refs()[0], api.pod_refs()[0], 1, 0.0, (5.0,)), Flow(None, web.pod_refs()[0], 1, 0.0, (5.0,)))
    return Scenario((web, api), flows, now - 600, now + 1200)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """One real Prometheus per mesh, each holding only that mesh's series of a small scenario."""
    scenario, started = small_scenario(), {}
    try:
        for mesh in RENDERERS:
            data = tmp_path_factory.mktemp(f"only-{mesh}")
            write_scenario(scenario, [mesh], data)
            started[mesh] = PrometheusServer(data).start()
        yield started
    finally:
        for server in started.values():
            server.stop()


def detect_at(url: str) -> str:
    async def run() -> str:
        client = PrometheusClient(url)
        await client.start()
        try:
            return (await Detector(packs, client).detect()).name
        finally:
            await client.close()
    return asyncio.run(run())


def test_auto_detects_each_mesh_from_its_own_series(stores):
    assert {mesh: detect_at(server.url) for mesh, server in stores.items()} == {m: m for m in RENDERERS}


def test_mixed_data_fails_naming_every_candidate(prometheus):
    with pytest.raises(DetectionError) as caught:
        detect_at(prometheus.url)
    message = str(caught.value)
    assert "several meshes" in message and "--mesh NAME" in message
    assert all(mesh in message for mesh in RENDERERS)


def test_mixed_data_on_victoriametrics(tmp_path):
    with VictoriaMetricsServer(tmp_path) as store:
        store.import_scenario(small_scenario(), ["kuma", "consul"])
        with pytest.raises(DetectionError, match=r"\(consul, kuma\)"):
            detect_at(store.url)


def test_no_mesh_names_what_was_looked_for(tmp_path):
    with PrometheusServer(tmp_path) as empty:
        with pytest.raises(DetectionError, match="no known mesh's series.*osm_request_total"):
            detect_at(empty.url)


def test_serve_with_mesh_auto_logs_its_choice(stores, tmp_path):
    server = ServerProcess(stores["cilium"].url, "--mesh", "auto", cert_dir=tmp_path)
    try:
        reply = server.get(f"{API_PREFIX}/namespaces/t/statefulsets/api?t=1m")
        assert reply.status == 200 and reply.json()["resource"]["kind"] == "StatefulSet"
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert "--mesh auto: cilium series" in log and "with the cilium query pack" in log


def queries(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "metrics_api", "queries", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("mesh", list(RENDERERS))
def test_check_passes_on_the_meshs_data_and_fails_on_another(stores, mesh):
    good = queries("check", "--prometheus-url", stores[mesh].url, "--mesh", mesh)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "MISSING" not in good.stdout and "ERROR" not in good.stdout and "0 problem(s)" in good.stdout
    other = "linkerd" if mesh != "linkerd" else "osm"
    bad = queries("check", "--prometheus-url", stores[mesh].url, "--mesh", other)
    assert bad.returncode == 1 and "MISSING" in bad.stdout


def test_check_with_auto_on_one_mesh_and_on_mixed_data(stores, prometheus):
    assert "pack osm" in queries("check", "--prometheus-url", stores["osm"].url).stdout
    mixed = queries("check", "--prometheus-url", prometheus.url)
    assert mixed.returncode == 2 and "several meshes" in mixed.stderr


def test_render_prints_the_promql_of_a_path():
    done = queries("render", "--mesh", "osm", f"{API_PREFIX}/namespaces/shop/deployments/web-app/edges?t=1m")
    assert done.returncode == 0
    assert 'destination_name="web_app"' in done.stdout and "[60s])) * 60.0" in done.stdout
    assert done.stdout.count("# deployments") == 4     # to and from: counts and buckets each
    bad = queries("render", "--mesh", "osm", f"{API_PREFIX}/namespaces/shop/deployments/Web")
    assert bad.returncode == 2 and "400" in bad.stderr


# -- the pack language --------------------------------------------------------------------------


def target(plural: str, name: str | None = None, namespace: str | None = "shop", edges: bool = False) -> Target:
    return Target(plural, (BY_PLURAL[plural],), namespace, name, edges, 30.0)


def test_encoded_values_and_kind_labels_reach_the_selector():
    [counts, *_] = plan(packs.load("osm"), target("statefulsets", "db-main"))
    assert 'destination_kind="StatefulSet", destination_namespace="shop", destination_name="db_main"' in counts.promql


def test_derived_labels_are_selected_through_their_source_label_escaped():
    kuma = packs.load("kuma")
    [counts, *_] = plan(kuma, target("services", "a.b", edges=True))
    # every naming scheme's alternative carries the escaped value
    assert (r'envoy_cluster_name=~"a\\.b_[a-z0-9-]+_svc_[0-9]+(-[0-9a-f]{16})?|[^_]+_a\\.b_[a-z0-9-]+_[^_]*_msvc_[0-9]+'
            r'|kri_msvc_[^_]*_[^_]*_[a-z0-9-]+_a\\.b_[^_]+"') in counts.promql
    assert r'envoy_cluster_name=~"[a-z0-9-]+_shop_svc_[0-9]+(-[0-9a-f]{16})?|' in counts.promql
    [listing, *_] = plan(kuma, target("services", namespace=None))
    assert r'envoy_cluster_name=~".+_[a-z0-9-]+_svc_[0-9]+' in listing.promql


@pytest.fixture
def kuma_document():
    return yaml.safe_load((packs.directory / "kuma.yaml").read_text())


@pytest.mark.parametrize("mutate, key, problem", [
    (lambda d: d.update(encode_values={"-": "."}), "encode_values.-", "can occur in Kubernetes names"),
    (lambda d: d.update(encode_values={"-": "__"}), "encode_values.-", "one character"),
    (lambda d: d["derived_labels"]["kuma_service"].update(match="svc_[0-9]+"), "derived_labels.kuma_service.match",
     "must contain {value}"),
    (lambda d: d["classify"].update(labels=["envoy_response_code_class"]), "classify", "not both"),
    (lambda d: d.update(classify={"labels": ["a", "a"], "failure": [{"a": "5"}]}), "classify.labels", "twice"),
    (lambda d: d.update(classify={"labels": ["a"], "failure": [{"b": "5"}]}), "classify.failure", "not one of"),
    (lambda d: d.update(classify={"labels": ["a"], "failure": [{"a": "("}]}), "classify.failure[0].a",
     "regular expression"),
    (lambda d: d.update(classify={"labels": ["a"], "failure": []}), "classify.failure", "non-empty list"),
    (lambda d: d.update(classify={"labels": ["a"], "failure": [{}]}), "classify.failure[0]", "at least one label"),
    (lambda d: d.update(classify={"labels": ["namespace"], "failure": [{"namespace": "x"}]}), "classify.labels",
     "also identify"),
    (lambda d: d["kinds"]["pods"]["resource"]["self"].update(kind_label_optional=True),
     "kinds.pods.resource.self.kind_label_optional", "needs a kind_label"),
    (lambda d: d["derived_labels"]["kuma_service"].update(match="{value}_(["), "derived_labels.kuma_service.match",
     "regular expression"),
    (lambda d: d["derived_labels"]["kuma_service"].update({"from": "bad-label"}), "derived_labels.kuma_service.from",
     "label name"),
    (lambda d: d["sources"]["outbound"].update(latency=d["sources"]["outbound"]["latency"].replace('"kuma_service"', '"x"')),
     "kinds.deployments.edges.to.source", "never created by sources.outbound.latency"),
    (lambda d: d["kinds"]["pods"]["resource"]["self"].update(kind_label="a b"), "kinds.pods.resource.self.kind_label",
     "label name"),
    (lambda d: d["sources"]["inbound"].update(latency=d["sources"]["inbound"]["latency"] + " * {{seconds}}"),
     "sources.inbound.latency", "unknown placeholder"),
])
def test_invalid_extensions_name_file_key_and_problem(kuma_document, mutate, key, problem):
    assert_rejected(kuma_document, mutate, key, problem)


# -- user packs (--query-packs) -----------------------------------------------------------------


def test_a_configmap_directory_overrides_a_shipped_pack_and_adds_one(tmp_path, monkeypatch, kuma_document):
    catalog = Catalog()
    mount = tmp_path / "mount"
    (mount / "..data").mkdir(parents=True)   # a ConfigMap volume: files are symlinks into ..data
    custom = copy.deepcopy(kuma_document)
    custom["description"] = "ours"
    (mount / "..data" / "kuma.yaml").write_text(yaml.safe_dump(custom))
    (mount / "kuma.yaml").symlink_to("..data/kuma.yaml")
    custom["mesh"] = "kuma-legacy"
    (mount / "..data" / "legacy.yml").write_text(yaml.safe_dump(custom))
    (mount / "legacy.yml").symlink_to("..data/legacy.yml")
    assert sorted(p.name for p in catalog.add_overrides(str(mount))) == ["kuma", "kuma-legacy"]
    assert catalog.load("kuma").description == "ours" and "kuma-legacy" in catalog.names()
    assert catalog.load("linkerd").name == "linkerd"
    assert packs.load("kuma").description != "ours", "a catalog's overrides stay in that catalog"


def test_a_broken_user_pack_fails_the_start_naming_file_key_and_problem(tmp_path, kuma_document):
    broken = copy.deepcopy(kuma_document)
    broken["kinds"]["pods"]["resource"]["source"] = "nowhere"
    (tmp_path / "kuma.yaml").write_text(yaml.safe_dump(broken))
    done = subprocess.run([sys.executable, "-m", "metrics_api", "serve", "--local", "--mesh", "linkerd",
                           "--prometheus-url", "http://127.0.0.1:1", "--query-packs", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=30)
    errors = [line for line in done.stderr.splitlines() if line.startswith("smi-metrics-api:")]
    assert done.returncode == 2 and len(errors) == 1, done.stderr
    assert f"{tmp_path / 'kuma.yaml'}: kinds.pods.resource.source: no source named 'nowhere'" in errors[0]
    for missing in ("/nonexistent/packs", str(tmp_path / "empty")):
        (tmp_path / "empty").mkdir(exist_ok=True)
        with pytest.raises(PackError, match="--query-packs"):
            Catalog().add_overrides(missing)
