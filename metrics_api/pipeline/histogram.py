"""Latency quantiles from bucket rates, computed here for rows the server adds up itself (the pods of a
workload, mapped through Kubernetes): Prometheus' own algorithm, so a workload measured through its pods
answers what `histogram_quantile` over the same buckets would (prometheus/prometheus
promql/quantile.go `bucketQuantile`, v2.42: coalesce equal bounds, force monotonic counts, interpolate
linearly inside the bucket, the highest finite bound when the rank falls into +Inf)."""
from __future__ import annotations

import math

from metrics_api.core.model import QUANTILES, Row


def with_quantiles(rows: list[Row], scale: float) -> list[Row]:
    """Fill `latency_ms` from `buckets` (in the mesh's unit; times `scale` is ms) and drop the buckets."""
    for row in rows:
        if row.buckets:
            for measure, q in QUANTILES.items():
                value = bucket_quantile(q, row.buckets)
                if value is not None and value > 0:   # as normalize: no requests → no latency
                    row.latency_ms[measure] = value * scale
            row.buckets = {}
    return rows


def bucket_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """The q-quantile of cumulative `buckets` (upper bound → count), or None where Prometheus says NaN."""
    bounds = sorted(buckets)
    if len(bounds) < 2 or not math.isinf(bounds[-1]):
        return None
    counts, highest = [], 0.0
    for bound in bounds:
        highest = max(highest, buckets[bound])   # ensureMonotonic
        counts.append(highest)
    observations = counts[-1]
    if observations <= 0:
        return None
    rank = q * observations
    b = next(i for i in range(len(bounds)) if i == len(bounds) - 1 or counts[i] >= rank)
    if b == len(bounds) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start, count = 0.0, counts[b]
    if b > 0:
        start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (bounds[b] - start) * (rank / count)
