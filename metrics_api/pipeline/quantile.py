"""Quantiles of classic (`le`-bucketed) histograms, computed here instead of by the store.

One bucket query per view (`sum by (le, …) (rate(…_bucket[w]))`) replaces three `histogram_quantile`
queries that each re-read the same bucket series; p50/p90/p99 then come from the one answer. The
arithmetic is Prometheus' `bucketQuantile` (promql/quantile.go, prometheus/prometheus, as of v2.51+):
sort by upper bound, require a `+Inf` bucket, merge equal bounds, correct float precision errors of
relative size ≤ 1e-12, force monotonicity, need ≥ 2 buckets and > 0 observations, find the bucket by
binary search over all but the `+Inf` one, return the second-highest bound when the rank falls into
`+Inf`, the lowest bound when it falls into a lowest bucket whose bound is ≤ 0, and otherwise
interpolate linearly (from 0 in the lowest bucket).

Differences between engines this removes (docs/operations.md): Prometheus before 2.51 has no
precision correction (results differ only when neighbouring cumulative counts differ by ≤ 1e-12
relative); VictoriaMetrics' histogram_quantile works on its own bucket ranges and interpolates
differently at the edges. Computed here, the answer is the same on every store.
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Iterable

from metrics_api.core.model import QUANTILES, Row
from metrics_api.core.quantity import MAX_INT64

PRECISION_TOLERANCE = 1e-12   # promql/quantile.go: correctPrecisionErrors(buckets, 1e-12)
LARGEST = float(MAX_INT64)    # the int64 range clients read quantities into

Bucket = tuple[float, float]   # (upper bound, cumulative count)


def parse_le(text: str) -> float | None:
    """An `le` label value as Go's strconv.ParseFloat reads it, or None (Prometheus drops such series)."""
    if "_" in text:   # Python's float() accepts digit separators; ParseFloat does not (base 10)
        return None
    try:
        return float(text)
    except ValueError:
        return None


def bucket_quantile(q: float, buckets: Iterable[Bucket]) -> float:
    """Prometheus' histogram_quantile(q, …) of one series group; NaN where it answers NaN."""
    return quantile_of(q, prepared(buckets))


Prepared = tuple[list[float], list[float]] | None   # (bounds, cumulative counts) ready to search; None: NaN


def prepared(buckets: Iterable[Bucket]) -> Prepared:
    """What bucketQuantile does to the buckets before it looks for a rank: done once for p50, p90 and p99."""
    ordered = sorted(buckets, key=lambda bucket: bucket[0])
    if not ordered or not math.isinf(ordered[-1][0]) or ordered[-1][0] < 0:
        return None
    bounds, counts = _coalesce(ordered)
    _correct_precision_errors(counts)
    _ensure_monotonic(counts)
    return bounds, counts


def quantile_of(q: float, ready: Prepared) -> float:
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if ready is None:
        return math.nan
    bounds, counts = ready
    if len(bounds) < 2:
        return math.nan
    observations = counts[-1]
    if observations == 0:
        return math.nan
    rank = q * observations
    # sort.Search over all but the +Inf bucket: the first index whose count reaches the rank.
    found = bisect.bisect_left(counts, rank, 0, len(counts) - 1)
    if found == len(bounds) - 1:
        return bounds[-2]
    if found == 0 and bounds[0] <= 0:
        return bounds[0]
    start, end, count = 0.0, bounds[found], counts[found]
    if found > 0:
        start = bounds[found - 1]
        count -= counts[found - 1]
        rank -= counts[found - 1]
    return start + (end - start) * (rank / count)


def _coalesce(ordered: list[Bucket]) -> tuple[list[float], list[float]]:
    """Buckets with the same upper bound merged (their counts added), as coalesceBuckets does."""
    bounds: list[float] = []
    counts: list[float] = []
    for bound, count in ordered:
        if bounds and bound == bounds[-1]:
            counts[-1] += count
        else:
            bounds.append(bound)
            counts.append(count)
    return bounds, counts


def _correct_precision_errors(counts: list[float]) -> None:
    previous = counts[0]
    for index in range(1, len(counts)):
        current = counts[index]
        delta = abs(current - previous)
        if delta == 0:
            continue
        relative = delta / current if current != 0 else math.inf   # Go: x/0 = +Inf for x > 0
        if relative <= PRECISION_TOLERANCE:
            counts[index] = previous
        else:
            previous = current


def _ensure_monotonic(counts: list[float]) -> None:
    highest = counts[0]
    for index in range(1, len(counts)):
        if counts[index] > highest:
            highest = counts[index]
        elif counts[index] < highest:
            counts[index] = highest


def with_quantiles(rows: list[Row], scale: float) -> list[Row]:
    """Each row's p99/p90/p50 from its summed bucket rates (in the mesh's unit; times `scale` is ms), then
    the buckets dropped. NaN (no requests) leaves a quantile absent; values are capped at the int64 range
    clients read them into."""
    for row in rows:
        if row.buckets:
            ready = prepared(row.buckets.items())
            for measure, quantile in QUANTILES.items():
                value = quantile_of(quantile, ready)
                if math.isfinite(value) and value > 0:
                    row.latency_ms[measure] = min(value * scale, LARGEST)
            row.buckets = {}
    return rows
