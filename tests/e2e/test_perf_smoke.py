"""Each benchmark of tests/perf, run briefly so that it keeps working: no timing is asserted here
(the figures are in tests/perf/RESULTS.md, measured with `python -m tests.perf`)."""
from __future__ import annotations

import argparse

import pytest

from metrics_api.http.server import STREAM_CHUNK
from tests.perf import loadgen, run

pytestmark = pytest.mark.skipif(not loadgen.available(), reason="wrk is missing: apt-get install wrk")


@pytest.fixture()
def brief(tmp_path) -> argparse.Namespace:
    (tmp_path / "certs").mkdir()
    return argparse.Namespace(runs=1, seconds=1, only={"cached", "cold", "coalescing"}, baseline=None)


def test_cached_cold_and_coalescing_against_prometheus(prometheus, tmp_path, brief):
    results = run._cold_and_cached(prometheus.url, tmp_path, brief, prometheus=True)
    assert set(results["cached"]) == {"uvloop", "asyncio"}   # server and ceiling on each event loop
    for cached in results["cached"].values():
        assert cached["server_max"]["rate"] > 0 and cached["ceiling_max"]["rate"] > 0
        assert cached["server_max"]["errors"] == 0
    assert results["cold"]["server"]["errors"] == 0 and results["cold"]["direct"]["queries"] == 3   # counts + buckets + presence (issue 15)
    assert results["cold"]["server"]["store_queries"] == 3   # Prometheus' own count of what one cold GET evaluated
    coalesced = results["coalescing"]
    assert coalesced["statuses"] == [200]
    assert coalesced["store_queries"] == coalesced["pack_queries"]   # 100 identical requests, one set of queries
    assert "cached GET" in run.report({"prometheus": results})


def test_cold_against_victoriametrics(tmp_path, brief):
    brief.only = {"cold"}   # the cached figure exercises the same code as against Prometheus
    results = run.victoria(tmp_path, brief)
    assert results["cold"]["server"]["errors"] == 0 and results["cold"]["direct"]["slowest_p50_ms"] > 0


def test_scale_list_and_edges(tmp_path, brief):
    brief.sizes = [100]   # a list of about 80 KB: written in chunks (server.STREAM_CHUNK)
    entry = run.scale(tmp_path, brief)["100"]
    ours = entry["ours"]
    assert ours["list"]["items"] == 110 and ours["edges"]["items"] == 20   # 100 server pods and 10 client pods
    assert ours["list"]["body_bytes"] > STREAM_CHUNK
    assert ours["clients50"]["errors"] == 0 and ours["clients50"]["peak_rss_mib"] > 0
    assert entry["list"]["legacy_concurrent_p50_ms"] > 0 and "[scale 100 pods, ours]" in run.report({"scale": {"100": entry}})
