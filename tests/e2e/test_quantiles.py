"""Quantiles computed by us equal Prometheus' own histogram_quantile over the same bucket expression, on
every resource and edge of every mesh's scenario (relative difference ≤ 1e-9; NaN exactly where it
answers NaN). Prometheus is asked directly with prometheus-api-client, not through the server."""
from __future__ import annotations

import math
import time

import pytest
from prometheus_api_client import PrometheusConnect

from meshsim import RENDERERS
from metrics_api.core.model import QUANTILES, Measure, Target
from metrics_api.pipeline.plan import plan
from metrics_api.pipeline.quantile import bucket_quantile, parse_le
from tests.support.catalog import packs

WINDOWS = (30.0, 300.0)


def bucket_queries(mesh: str, window: float) -> list[str]:
    """Every distinct bucket query of the pack: each kind's list across namespaces, and its edges."""
    pack = packs.load(mesh)
    found: dict[str, None] = {}
    for plural, support in pack.kinds.items():
        for edges in (False, True) if support.edges else (False,):
            for query in plan(pack, Target(plural, (support.kind,), None, None, edges, window)):
                if query.measure is Measure.BUCKETS:
                    found.setdefault(query.promql)
    return list(found)


def ours(series: list[dict], quantile: float) -> dict[tuple, float]:
    histograms: dict[tuple, list[tuple[float, float]]] = {}
    for item in series:
        labels = dict(item["metric"])
        bound = parse_le(labels.pop("le"))
        histograms.setdefault(tuple(sorted(labels.items())), []).append((bound, float(item["value"][1])))
    return {key: bucket_quantile(quantile, buckets) for key, buckets in histograms.items()}


def theirs(series: list[dict]) -> dict[tuple, float]:
    return {tuple(sorted(item["metric"].items())): float(item["value"][1]) for item in series}


@pytest.mark.parametrize("mesh", list(RENDERERS))
def test_our_quantiles_equal_histogram_quantile(prometheus, mesh):
    client = PrometheusConnect(prometheus.url)
    at = time.time()
    compared = nan = 0
    for window in WINDOWS:
        for text in bucket_queries(mesh, window):
            buckets = client.custom_query(text, params={"time": at})
            for quantile in QUANTILES.values():
                expected = theirs(client.custom_query(f"histogram_quantile({quantile}, {text})", params={"time": at}))
                computed = ours(buckets, quantile)
                assert computed.keys() == expected.keys(), text
                for key, value in expected.items():
                    compared += 1
                    if math.isnan(value):
                        nan += 1
                        assert math.isnan(computed[key]), (text, key)
                    else:
                        assert computed[key] == pytest.approx(value, rel=1e-9, abs=0), (text, key, quantile)
    assert compared > 50 and nan < compared   # the scenario has traffic, and some idle series
