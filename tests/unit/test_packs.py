"""Pack loading: the shipped packs are valid and a broken pack fails naming file, key and problem."""

import pytest
import yaml

from metrics_api.packs.model import PackError
from tests.support.catalog import packs
from tests.support.packcheck import assert_rejected


def test_every_shipped_pack_loads():
    names = packs.names()
    assert {"linkerd", "istio"} <= set(names)
    for name in names:
        pack = packs.load(name)
        assert pack.name == name and pack.kinds


def test_unknown_mesh_lists_the_known_ones():
    with pytest.raises(PackError, match="linkerd"):
        packs.load("nosuchmesh")


@pytest.fixture
def document():
    return yaml.safe_load((packs.directory / "linkerd.yaml").read_text())


@pytest.mark.parametrize("mutate, key, problem", [
    (lambda d: d["sources"]["inbound"].update(counts="sum(response_total)"), "sources.inbound.counts", "missing"),
    (lambda d: d["sources"]["inbound"].update(counts=d["sources"]["inbound"]["counts"] + "{{name}}"),
     "sources.inbound.counts", "unknown placeholder"),
    (lambda d: d["kinds"]["deployments"]["resource"].update(source="nope"), "kinds.deployments.resource.source", "nope"),
    (lambda d: d["kinds"]["deployments"]["resource"]["self"].update(name="bad-label"),
     "kinds.deployments.resource.self.name", "label name"),
    (lambda d: d["kinds"].update(widgets=d["kinds"]["pods"]), "kinds.widgets", "unknown kind"),
    (lambda d: d.update(latency_unit="fortnights"), "latency_unit", "must be one of"),
    (lambda d: d["classify"].update(failure="("), "classify.failure", "regular expression"),
    (lambda d: d["kinds"]["pods"]["edges"].update(sideways=d["kinds"]["pods"]["edges"]["to"]),
     "kinds.pods.edges.sideways", "direction"),
    (lambda d: d["kinds"]["deployments"]["resource"]["self"].pop("namespace"),
     "kinds.deployments.resource.self.namespace", "namespaced"),
])
def test_invalid_packs_name_file_key_and_problem(document, mutate, key, problem):
    assert_rejected(document, mutate, key, problem)


def test_a_pack_file_is_loaded_from_a_path(tmp_path, document):
    path = tmp_path / "mine.yaml"
    document["mesh"] = "mine"
    path.write_text(yaml.safe_dump(document))
    assert packs.load(str(path)).name == "mine"
    path.write_text("mesh: [unclosed")
    with pytest.raises(PackError, match="not valid YAML"):
        packs.load(str(path))


@pytest.mark.parametrize("mesh, metric, failed", [
    ("linkerd", {"status_code": "503"}, True),
    ("linkerd", {"status_code": "200"}, False),
    ("linkerd", {"error": "timeout"}, True),                           # no response: no status_code
    ("linkerd", {"status_code": "200", "grpc_status": "14"}, True),
    ("linkerd", {"status_code": "200", "grpc_status": "5", "classification": "success"}, True),
    ("linkerd", {"status_code": "200", "grpc_status": "0"}, False),
    ("linkerd", {"status_code": "200", "grpc_status": "17"}, False),   # not a gRPC status
    ("istio", {"response_code": "0"}, True),
    ("istio", {"response_code": "200", "grpc_response_status": "2"}, True),
    ("istio", {"response_code": "404"}, False),
    ("istio", {"response_code": "200"}, False),
    ("kuma", {"envoy_response_code_class": "5"}, True),
    ("osm", {"response_code": "500"}, True),
    ("cilium", {"status": "200"}, False),
])
def test_one_failure_definition_per_pack(mesh, metric, failed):
    pack = packs.load(mesh)
    assert pack.classify.is_failure(metric) is failed
    assert pack.classify.definition   # stated for docs and `queries check`


def test_every_status_label_is_grouped_by_in_counts():
    from metrics_api.core.kinds import BY_PLURAL
    from metrics_api.core.model import Target
    from metrics_api.pipeline.plan import plan
    [counts, *_] = plan(packs.load("linkerd"), Target("deployments", (BY_PLURAL["deployments"],), "shop", "web",
                                                      False, 30.0))
    assert "sum by (namespace, deployment, status_code, grpc_status, error)" in counts.promql


def test_a_name_written_ambiguously_is_answered_as_requested_and_read_back_decoded():
    osm = packs.load("osm")
    assert osm.encode("a.b-c") == "a_b_c" and osm.decode("a_b_c") == "a-b-c"
