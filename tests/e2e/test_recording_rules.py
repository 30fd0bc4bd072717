"""`queries rules`: the rules load in Prometheus (promtool check rules), and once backfilled
(promtool tsdb create-blocks-from rules) the server reads them and answers as it does from raw series."""
from __future__ import annotations

import json
import math
import subprocess
import time

import pytest

from meshsim import RENDERERS
from meshsim.store import PROMTOOL, PrometheusServer, write_scenario
from metrics_api.apis.smi import API_PREFIX
from tests.support.recording import backfill_rules, write_rules
from tests.support.serverproc import ServerProcess

STEP = 5   # the rules are evaluated on the server's 5 s evaluation instants, so both read the same window ends


# Sources (PromQL templates) each pack reads, written by hand from queries/*.yaml: two rules (counts,
# buckets) per source and window.
SOURCES = {"linkerd": 2, "istio": 4, "consul": 2, "osm": 1, "kuma": 2, "cilium": 2}


@pytest.mark.parametrize("mesh", list(RENDERERS))
def test_rules_load_in_prometheus(mesh, tmp_path):
    rules = write_rules(mesh, tmp_path)
    checked = subprocess.run([PROMTOOL, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    expected = f"SUCCESS: {SOURCES[mesh] * 2 * 3} rules found"
    assert checked.returncode == 0 and expected in checked.stdout, checked.stdout + checked.stderr
    operator = (tmp_path / f"{mesh}-prometheusrule.yaml").read_text()
    assert "kind: PrometheusRule" in operator and "smi:" in operator


@pytest.fixture(scope="module", params=["linkerd", "kuma"])   # kuma: derived labels on recorded series
def recorded_store(request, scenario, tmp_path_factory):
    """A Prometheus holding the scenario of one mesh and, for the last minutes, its recording rules."""
    mesh = request.param
    work = tmp_path_factory.mktemp(f"rules-{mesh}")
    write_scenario(scenario, [mesh], work / "tsdb")
    rules = write_rules(mesh, work)
    store = PrometheusServer(work / "tsdb")
    store.start()
    now = int(time.time()) // STEP * STEP
    backfill_rules(store, rules, now - 420, now + 600, STEP, work, timeout=300)
    try:
        yield mesh, store
    finally:
        store.stop()


def numbers(body: bytes) -> list[tuple[str, float]]:
    """Every metric value of an answer, by item and name, as numbers."""
    document = json.loads(body)
    items = document.get("items", [document])
    found = []
    for item in items:
        peer = (item["edge"]["resource"] or {}).get("name", "")
        for metric in item["metrics"]:
            found.append((f"{item['resource']['name']}>{peer}:{metric['name']}", quantity(metric["value"])))
    return found


def quantity(text: str) -> float:
    for suffix, scale in (("m", 1e-3), ("k", 1e3), ("M", 1e6)):
        if text.endswith(suffix):
            return float(text[:-1]) * scale
    return float(text)


def test_the_server_reads_the_recordings_and_answers_as_from_raw_series(recorded_store, tmp_path):
    mesh, store = recorded_store
    paths = [f"{API_PREFIX}/namespaces/shop/pods", f"{API_PREFIX}/namespaces", f"{API_PREFIX}/pods?t=1m",
             f"{API_PREFIX}/namespaces/shop/pods?t=5m"]
    if mesh == "linkerd":
        paths += [f"{API_PREFIX}/namespaces/shop/deployments/web/edges", f"{API_PREFIX}/deployments?t=1m"]
    else:
        paths += [f"{API_PREFIX}/namespaces/shop/services/web/edges", f"{API_PREFIX}/services?t=1m"]
    recorded = ServerProcess(store.url, "--mesh", mesh, cert_dir=tmp_path)
    raw = ServerProcess(store.url, "--mesh", mesh, "--recording-rules", "off", cert_dir=tmp_path)
    try:
        for path in paths:
            for _ in range(3):   # both answers must come from one evaluation instant
                time.sleep(STEP - time.time() % STEP + 0.05)
                ours, theirs = recorded.get(path), raw.get(path)
                if json.loads(ours.body).get("items", [{}])[:1] and ours.status == 200:
                    break
            assert ours.status == theirs.status == 200, (path, ours.body[:300], theirs.body[:300])
            got, want = numbers(ours.body), numbers(theirs.body)
            assert [name for name, _ in got] == [name for name, _ in want], path
            for (name, a), (_, b) in zip(got, want):
                # Sums of sums differ from one sum by float noise, which can move a milli-truncated value by one
                # step of 1m (plus the float error of that step itself).
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1.5e-3), (path, name, a, b)
            assert got, path
    finally:
        recorded.stop()
        raw.stop()
    log = recorded.log_path.read_text()
    assert "recording rules in use for [(" in log, log[-2000:]
    assert "recording rules in use" not in raw.log_path.read_text()
