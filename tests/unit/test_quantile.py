"""bucket_quantile against values worked out by hand from Prometheus' rules (promql/quantile.go)."""
from __future__ import annotations

import math

import pytest

from metrics_api.pipeline.quantile import bucket_quantile, parse_le

INF = math.inf


@pytest.mark.parametrize("q, buckets, expected", [
    # linear interpolation inside a bucket, from 0 in the lowest one
    (0.5, [(10, 50), (100, 90), (INF, 100)], 10.0),
    (0.25, [(10, 50), (100, 90), (INF, 100)], 5.0),
    (0.7, [(10, 50), (100, 90), (INF, 100)], 10 + 90 * 20 / 40),
    # the rank falls into +Inf: the second-highest bound
    (0.99, [(10, 50), (100, 90), (INF, 100)], 100.0),
    # buckets arrive in any order
    (0.25, [(INF, 100), (100, 90), (10, 50)], 5.0),
    # equal bounds are merged (their counts added)
    (0.5, [(10, 25), (10, 25), (100, 90), (INF, 100)], 10.0),
    # non-monotonic counts are forced up to the envelope: (100, 40) reads as 50
    (0.5, [(10, 50), (100, 40), (INF, 100)], 10.0),
    (0.75, [(10, 50), (100, 40), (INF, 100)], 100.0),
    # a lowest bucket with a bound ≤ 0 is returned as is
    (0.1, [(-5, 20), (10, 50), (INF, 100)], -5.0),
    (0.1, [(0, 20), (10, 50), (INF, 100)], 0.0),
    # the rank reached exactly at a bucket's end uses that bucket (sort.Search finds count >= rank)
    (0.9, [(10, 50), (100, 90), (INF, 100)], 100.0),
    # q outside [0, 1]
    (-0.1, [(10, 1), (INF, 1)], -INF),
    (1.1, [(10, 1), (INF, 1)], INF),
    (0.0, [(10, 4), (INF, 4)], 0.0),
    (1.0, [(10, 4), (100, 8), (INF, 8)], 100.0),
])
def test_values(q, buckets, expected):
    assert bucket_quantile(q, buckets) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("q, buckets", [
    (0.5, []),                                   # nothing
    (0.5, [(INF, 10)]),                          # fewer than two buckets
    (0.5, [(10, 5), (100, 10)]),                 # no +Inf bucket
    (0.5, [(10, 0), (100, 0), (INF, 0)]),        # no observations
    (math.nan, [(10, 5), (INF, 10)]),            # q is NaN
    (0.5, [(10, 5), (-INF, 10)]),                # the highest bound is -Inf, not +Inf
])
def test_nan_cases(q, buckets):
    assert math.isnan(bucket_quantile(q, buckets))


def test_precision_errors_below_1e_12_are_corrected():
    # The second bucket is 1e-13 (relative) above the first: a float error, not an observation. Corrected,
    # it holds 1000 like the first, so a rank just above 1000 lands in +Inf (→ 20, the bound below it);
    # uncorrected it would interpolate inside (10, 20] (→ 14).
    buckets = [(10, 1000.0), (20, 1000.0 * (1 + 1e-13)), (INF, 2000.0)]
    assert bucket_quantile(0.50000000000002, buckets) == 20.0
    # a real (larger) difference is kept: interpolated inside (10, 20]
    assert bucket_quantile(0.5025, [(10, 1000.0), (20, 1010.0), (INF, 2000.0)]) == pytest.approx(15.0)


@pytest.mark.parametrize("text, value", [
    ("+Inf", INF), ("Inf", INF), ("0.005", 0.005), ("1e+06", 1e6), ("1.8e+06", 1.8e6), ("-1", -1.0),
    ("ten", None), ("", None), ("1_000", None),
])
def test_parse_le(text, value):
    assert parse_le(text) == value


def test_with_quantiles_caps_latencies_at_the_int64_range_and_drops_the_buckets():
    from metrics_api.core.model import Direction, Measure, Ref, Row
    from metrics_api.core.quantity import MAX_INT64
    from metrics_api.pipeline.quantile import with_quantiles

    row = Row(Ref("shop", "web", "Deployment"), Direction.RESOURCE, None, buckets={1e300: 10.0, INF: 10.0})
    [done] = with_quantiles([row], 1000.0)
    assert done.latency_ms[Measure.P50] == float(MAX_INT64) and done.buckets == {}
