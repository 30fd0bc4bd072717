"""The real kubectl against the server (`--local`, on the session Prometheus with the simulated scenario):
what kubectl prints must match the ground truth of tests/truth.py."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from meshsim.demo import write_kubeconfig
from metrics_api.apis.smi import API_PREFIX
from metrics_api.core.kinds import TRAFFICMETRICS
from tests.support import truth
from tests.support.catalog import packs
from tests.support.expectations import FLOAT_NOISE, SIGHT, assert_matches, expected_count, observable, reported_kind
from tests.support.truth import Ref

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH: install kubectl to run the kubectl suite")

P = API_PREFIX
WINDOW = 30   # kubectl get cannot pass ?t=: every table is the default window
HEADER = ["NAME", "KIND", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P90", "LATENCY_P99", "WINDOW"]
WIDE = ["SUCCESS_COUNT", "FAILURE_COUNT"]


@dataclass
class Kubectl:
    kubeconfig: Path
    cache: Path

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([KUBECTL, f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache}", *args],
                              capture_output=True, text=True, timeout=30)
        if ok:
            assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done

    def table(self, *args: str) -> tuple[list[str], list[dict[str, str]]]:
        """kubectl's table as (header, rows); no cell we print contains a space."""
        lines = self.run("get", *args).stdout.splitlines()
        header = lines[0].split()
        rows = [dict(zip(header, line.split(), strict=True)) for line in lines[1:]]
        return header, rows


@pytest.fixture(scope="module")
def kubectl_for(api_server, tmp_path_factory):
    home = tmp_path_factory.mktemp("kubectl")

    def make(mesh: str) -> Kubectl:
        server = api_server(mesh)
        return Kubectl(write_kubeconfig(home / f"{mesh}.kubeconfig", server.port), home / "cache")
    return make


@pytest.fixture(scope="module")
def kubectl(kubectl_for) -> Kubectl:
    return kubectl_for("linkerd")


# -- reading kubectl's cells back into numbers ---------------------------------------------------------

def percent(cell: str) -> float | None:
    return None if cell == "-" else float(cell.rstrip("%")) / 100


def milliseconds(cell: str) -> float | None:
    if cell == "-":
        return None
    match = re.fullmatch(r"([0-9.]+)(ms|s)", cell)
    assert match, f"latency cell {cell!r}"
    return float(match.group(1)) * (1 if match.group(2) == "ms" else 1000)


def half_step(value: float, steps: tuple[tuple[float, float], ...]) -> float:
    """Half the last printed digit of `value`: `steps` are (below this value, the digit), in order."""
    return next(step for limit, step in steps if value < limit) / 2


# The table's printed precision (metrics_api/apis/smi/table.py docstrings: `0.05`, `2.5`, `12.3`, `150` rps;
# `0.5ms`, `9.2ms`, `12ms`, `390ms`, `1.2s`, `15s`), as (below, last digit) pairs.
RPS_DIGITS = ((10, 0.01), (100, 0.1), (float("inf"), 1))
LATENCY_DIGITS = ((10, 0.1), (999.5, 1), (9950, 100), (float("inf"), 1000))


def assert_row(row: dict[str, str], expected: truth.Metrics, context: str) -> None:
    """A table row equals the truth to the precision it prints: SUCCESS truncated to 0.01 % (so a single
    failure never shows 100.00%), RPS and latencies rounded to their last printed digit, counts exact."""
    if "WINDOW" in row:   # the server's Table has it; `kubectl traffic` prints the window once, in -t
        assert row["WINDOW"] == "30s", context
    if expected.total == 0:
        assert (row["SUCCESS"], row["RPS"], row["LATENCY_P50"], row["LATENCY_P90"], row["LATENCY_P99"]) == \
            ("-", "0", "-", "-", "-"), context
        return
    assert -FLOAT_NOISE <= expected.success_rate - percent(row["SUCCESS"]) < 1e-4 + FLOAT_NOISE, context
    rps = expected.request_rate
    assert abs(float(row["RPS"]) - rps) <= half_step(rps, RPS_DIGITS) + FLOAT_NOISE * rps, context
    for column, value in (("LATENCY_P50", expected.p50), ("LATENCY_P90", expected.p90), ("LATENCY_P99", expected.p99)):
        assert abs(milliseconds(row[column]) - value) <= half_step(value, LATENCY_DIGITS) + FLOAT_NOISE * value, \
            f"{context} {column}: {row[column]}, truth {value}"
    if "SUCCESS_COUNT" in row:
        assert int(row["SUCCESS_COUNT"]) == expected_count(expected.success_count, context), context
        assert int(row["FAILURE_COUNT"]) == expected_count(expected.failure_count, context), context


def workloads(scenario, mesh: str, namespace: str | None) -> list[Ref]:
    return sorted((ref for kind in truth.WORKLOAD_KINDS for ref in truth.resources(scenario, kind, namespace)
                   if observable(scenario, SIGHT[mesh], ref)), key=lambda ref: (ref.namespace, ref.name))


def assert_workload_table(rows: list[dict[str, str]], scenario, mesh: str, namespace: str | None) -> None:
    expected = workloads(scenario, mesh, namespace)
    got = [(row.get("NAMESPACE", namespace), row["NAME"], row["KIND"]) for row in rows]
    assert got == [(ref.namespace, ref.name, reported_kind(SIGHT[mesh], ref.kind)) for ref in expected]
    for row, ref in zip(rows, expected):
        assert_row(row, truth.resource_metrics(scenario, mesh, ref, WINDOW), f"{mesh} {ref}")


# -- discovery -------------------------------------------------------------------------------------------

def test_api_resources_lists_every_plural_the_pack_serves(kubectl):
    lines = kubectl.run("api-resources", "--api-group=metrics.smi-spec.io", "-o", "wide").stdout.splitlines()
    assert lines[0].split()[:5] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    listed = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert set(listed) == {*packs.load("linkerd").kinds, TRAFFICMETRICS}
    for name, (api_version, namespaced, kind, verbs, *_) in listed.items():
        assert (api_version, kind, verbs) == ("metrics.smi-spec.io/v1alpha1", "TrafficMetrics", "get,list"), name
        assert namespaced == ("false" if name == "namespaces" else "true"), name


def test_kubectl_maps_every_plural_of_the_group_to_one_resource(kubectl):
    """kubectl maps a resource to its kind and the kind back to ONE resource (the last one discovery lists
    for it). Every SMI resource has kind TrafficMetrics, so every `kubectl get <plural>.metrics.smi-spec.io`
    asks for `trafficmetrics` — which discovery therefore lists last: the whole-mesh table with KIND."""
    for plural in ("deployments", "statefulsets", "pods"):
        done = kubectl.run("get", f"{plural}.metrics.smi-spec.io", "-n", "shop", "-v=6")
        requests = re.findall(r"GET (https://\S+)", done.stderr)
        assert requests[-1].split("?")[0].endswith(f"{P}/namespaces/shop/{TRAFFICMETRICS}"), requests


# -- tables ----------------------------------------------------------------------------------------------

def test_get_trafficmetrics_in_a_namespace(kubectl, scenario):
    header, rows = kubectl.table(TRAFFICMETRICS, "-n", "shop")
    assert header == HEADER
    assert_workload_table(rows, scenario, "linkerd", "shop")


def test_get_trafficmetrics_in_every_namespace_adds_namespace(kubectl, scenario):
    header, rows = kubectl.table(TRAFFICMETRICS, "-A")
    assert header == ["NAMESPACE", *HEADER]
    assert {row["NAMESPACE"] for row in rows} == {"shop", "ops", "pay"}
    assert_workload_table(rows, scenario, "linkerd", None)


def test_get_deployments_qualified_prints_every_deployment_with_its_numbers(kubectl, scenario):
    header, rows = kubectl.table("deployments.metrics.smi-spec.io", "-n", "shop")
    assert header == HEADER
    by_name = {row["NAME"]: row for row in rows if row["KIND"] == "Deployment"}
    deployments = truth.resources(scenario, "Deployment", "shop")
    assert sorted(by_name) == sorted(ref.name for ref in deployments)
    for ref in deployments:
        assert_row(by_name[ref.name], truth.resource_metrics(scenario, "linkerd", ref, WINDOW), str(ref))


def test_wide_output_adds_the_counts(kubectl, scenario):
    header, rows = kubectl.table(TRAFFICMETRICS, "-n", "shop", "-o", "wide")
    assert header == HEADER + WIDE
    assert_workload_table(rows, scenario, "linkerd", "shop")


def test_get_by_name_and_show_labels(kubectl, scenario):
    header, rows = kubectl.table(TRAFFICMETRICS, "db", "-n", "shop", "--show-labels")
    assert header == HEADER + ["LABELS"]
    assert [(row["NAME"], row["KIND"], row["LABELS"]) for row in rows] == [("db", "StatefulSet", "<none>")]
    assert_row(rows[0], truth.resource_metrics(scenario, "linkerd", Ref("StatefulSet", "shop", "db"), WINDOW), "db")


def test_sort_by_reads_the_full_objects(kubectl):
    """--sort-by makes kubectl ask for includeObject=Object and sort on the embedded TrafficMetrics."""
    _, rows = kubectl.table(TRAFFICMETRICS, "-n", "shop", "--sort-by=.resource.kind")
    kinds = [row["KIND"] for row in rows]
    assert kinds == sorted(kinds) and "StatefulSet" in kinds and "Deployment" in kinds


def test_edges_as_a_table(kubectl, scenario):
    header, rows = kubectl.table("deployments.metrics.smi-spec.io", "api", "-n", "shop", "--subresource=edges")
    assert header == ["NAME", "KIND", "DIRECTION", "PEER", "PEER_NAMESPACE", *HEADER[2:]]
    expected = {(edge.direction, f"{edge.peer.kind.lower()}/{edge.peer.name}", edge.peer.namespace): edge
                for edge in truth.edges(scenario, "linkerd", Ref("Deployment", "shop", "api"), WINDOW)}
    got = {(row["DIRECTION"], row["PEER"], row["PEER_NAMESPACE"]): row for row in rows}
    assert set(got) == set(expected)
    for key, edge in expected.items():
        assert got[key]["NAME"] == "api"
        assert_row(got[key], edge.metrics, f"api {key}")


def test_istio_table(kubectl_for, scenario):
    header, rows = kubectl_for("istio").table(TRAFFICMETRICS, "-n", "shop", "-o", "wide")
    assert header == HEADER + WIDE
    assert_workload_table(rows, scenario, "istio", "shop")


# -- JSON ------------------------------------------------------------------------------------------------

def test_output_json_is_the_list_of_traffic_metrics(kubectl, scenario):
    listing = json.loads(kubectl.run("get", TRAFFICMETRICS, "-n", "shop", "-o", "json").stdout)
    assert listing["kind"] == "List"   # kubectl re-wraps every list it prints
    expected = workloads(scenario, "linkerd", "shop")
    assert [(i["kind"], i["resource"]["kind"], i["resource"]["name"]) for i in listing["items"]] == \
        [("TrafficMetrics", ref.kind, ref.name) for ref in expected]
    for item, ref in zip(listing["items"], expected):
        assert_matches(item, truth.resource_metrics(scenario, "linkerd", ref, WINDOW), str(ref))


def test_get_raw_get_list_and_edges(kubectl, scenario):
    def raw(path: str):
        return json.loads(kubectl.run("get", "--raw", path).stdout)

    web = Ref("Deployment", "shop", "web")
    item = raw(f"{P}/namespaces/shop/deployments/web?t=1m")
    assert item["kind"] == "TrafficMetrics" and item["window"] == "1m0s"
    assert_matches(item, truth.resource_metrics(scenario, "linkerd", web, 60), "raw get")
    listing = raw(f"{P}/namespaces/shop/deployments")
    assert listing["kind"] == "TrafficMetricsList"
    assert [i["resource"]["name"] for i in listing["items"]] == [r.name for r in truth.resources(scenario, "Deployment", "shop")]
    edges = raw(f"{P}/namespaces/shop/deployments/web/edges")
    assert edges["resource"] == {"kind": "Deployment", "namespace": "shop", "name": "web"}
    assert {(i["edge"]["direction"], i["edge"]["resource"]["name"]) for i in edges["items"]} == \
        {(e.direction, e.peer.name) for e in truth.edges(scenario, "linkerd", web, WINDOW)}


# -- explain ---------------------------------------------------------------------------------------------

def test_explain_reads_our_openapi(kubectl):
    text = kubectl.run("explain", "deployments.metrics.smi-spec.io").stdout
    assert re.search(r"GROUP:\s+metrics.smi-spec.io", text) and re.search(r"KIND:\s+TrafficMetrics", text)
    for field in ("metrics\t<[]Metric>", "window\t<string>", "edge\t<Edge>", "resource\t<ObjectReference>"):
        assert field in text
    metric = kubectl.run("explain", "trafficmetrics.metrics").stdout
    assert "value\t<string> -required-" in metric and "FIELD: metrics <[]Metric>" in metric


# -- errors as kubectl shows them ------------------------------------------------------------------------

def test_not_found(kubectl):
    done = kubectl.run("get", "--raw", f"{P}/namespaces/shop/deployments/nope", ok=False)
    assert done.returncode == 1
    assert done.stderr.strip() == 'Error from server (NotFound): deployments.metrics.smi-spec.io "nope" not found'
    # `kubectl get` follows a NotFound with a look at /api/v1/namespaces/shop, which only kube-apiserver
    # serves: without one (--local) it prints that request's NotFound instead of ours.
    done = kubectl.run("get", TRAFFICMETRICS, "nope", "-n", "shop", ok=False)
    assert done.returncode == 1 and done.stderr.startswith("Error from server (NotFound): ")


def test_bad_request(kubectl):
    done = kubectl.run("get", TRAFFICMETRICS, "Bad_Name", "-n", "shop", ok=False)
    assert done.returncode == 1
    assert done.stderr.startswith("Error from server (BadRequest): invalid trafficmetrics name 'Bad_Name': ")
    done = kubectl.run("get", "--raw", f"{P}/namespaces/shop/deployments?t=25h", ok=False)
    assert done.stderr.strip() == "Error from server (BadRequest): invalid window t='25h': must be between 1s and 24h"


def test_watch_is_refused(kubectl):
    done = kubectl.run("get", TRAFFICMETRICS, "-n", "shop", "--watch-only", ok=False)
    assert done.returncode == 1
    assert "Error from server (MethodNotAllowed): watch is not supported" in done.stderr
