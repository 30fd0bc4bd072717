"""The planner and normalize on hand-written series: no Prometheus. Expected values are written out
here, not computed with the code under test."""
from __future__ import annotations

import pytest

from metrics_api.core.kinds import BY_PLURAL
from metrics_api.core.model import Direction, Measure, Ref, Target
from metrics_api.pipeline.normalize import normalize
from metrics_api.pipeline.plan import plan, plan_existence
from tests.support.catalog import packs

LINKERD = packs.load("linkerd")


def target(plural: str, name: str | None = None, edges: bool = False, namespace: str | None = "shop") -> Target:
    return Target(plural, (BY_PLURAL[plural],), namespace, name, edges, 30.0)


def sample(value: str, **labels: str) -> dict:
    return {"metric": labels, "value": [1.7e9, value]}


def histogram(cumulative: dict[str, str], **labels: str) -> list[dict]:
    """Bucket series (`le` → cumulative rate) of one histogram."""
    return [sample(count, le=le, **labels) for le, count in cumulative.items()]


# 100 requests: 50 at ≤ 10 ms, 40 more ≤ 100, 10 more ≤ 1000. By hand (linear within a bucket):
# p50 = 10 (rank 50 ends the first bucket), p90 = 100, p99 = 100 + 900 * (99-90)/10 = 910.
SPREAD = {"10": "50", "100": "90", "1000": "100", "+Inf": "100"}


# -- the planner -----------------------------------------------------------------------------------

@pytest.mark.parametrize("request_target, shape", [
    # (direction, measure) of each query, in order; written by hand from the Linkerd pack.
    (target("deployments", "web"), [("", "counts"), ("", "buckets"), ("", "presence")]),
    (target("deployments"), [("", "counts"), ("", "buckets"), ("", "presence")]),
    (target("deployments", "web", edges=True),
     [("to", "counts"), ("to", "buckets"), ("from", "counts"), ("from", "buckets")]),
])
def test_plan_shape(request_target, shape):
    assert [(q.direction, q.measure) for q in plan(LINKERD, request_target)] == shape


def test_existence_plan_reads_no_latency():
    assert [(q.direction, q.measure) for q in plan_existence(LINKERD, target("deployments", "web"))] == [
        ("", "counts"), ("", "presence")]


def test_plan_selects_names_as_escaped_equality_literals():
    [counts, *_] = plan(LINKERD, target("deployments", 'a.b"}'))
    assert 'deployment="a.b\\"}"' in counts.promql and 'namespace="shop"' in counts.promql
    assert "=~" not in counts.promql


def test_a_list_across_namespaces_has_no_namespace_matcher():
    [counts, *_] = plan(LINKERD, target("deployments", namespace=None))
    assert 'deployment!=""' in counts.promql and 'namespace="' not in counts.promql


# -- normalize -------------------------------------------------------------------------------------

def rows_of(request_target: Target, by_measure: dict[tuple[str, str], list[dict]]):
    planned = plan(LINKERD, request_target)
    return normalize(LINKERD, planned, [by_measure.get((q.direction, q.measure), []) for q in planned])


WEB = dict(namespace="shop", deployment="web")


@pytest.mark.parametrize("series, expected", [
    # counts split by classification; latency only where there are counts
    ({("", "counts"): [sample("90", status_code="200", **WEB), sample("10", status_code="503", **WEB)],
      ("", "buckets"): histogram(SPREAD, **WEB)},
     [("web", 90.0, 10.0, {"p99": 910.0, "p90": 100.0, "p50": 10.0})]),
    # no requests in the window: every bucket 0, the quantiles NaN: absent, never 0 or NaN
    ({("", "counts"): [sample("0", status_code="200", **WEB)],
      ("", "buckets"): histogram({"10": "0", "+Inf": "0"}, **WEB)},
     [("web", 0.0, 0.0, {})]),
    # latency without counts does not make a row
    ({("", "buckets"): histogram(SPREAD, **WEB)}, []),
    # a bucket whose `le` is not a number is skipped, as Prometheus skips it
    ({("", "counts"): [sample("1", status_code="200", **WEB)],
      ("", "buckets"): histogram({"10": "50", "ten": "70", "100": "90", "+Inf": "100"}, **WEB)},
     [("web", 1.0, 0.0, {"p99": 100.0, "p90": 100.0, "p50": 10.0})]),
    # a caller known only from its client-side series is listed with zero inbound traffic
    ({("", "presence"): [sample("7", status_code="200", namespace="shop", deployment="loadgen")]},
     [("loadgen", 0.0, 0.0, {})]),
    # negative and infinite values are read as 0
    ({("", "counts"): [sample("-3", status_code="200", **WEB), sample("+Inf", status_code="503", **WEB)]},
     [("web", 0.0, 0.0, {})]),
    # series without the identity label are dropped
    ({("", "counts"): [sample("4", status_code="200", namespace="shop")]}, []),
])
def test_normalize_resources(series, expected):
    rows = rows_of(target("deployments"), series)
    assert [(r.resource.name, r.success, r.failure, dict(r.latency_ms)) for r in rows] == expected
    assert all(r.direction is Direction.RESOURCE and r.resource.kind == "Deployment" for r in rows)


def test_normalize_edges_name_the_peer_by_the_label_that_is_set():
    to_db = dict(namespace="shop", deployment="web", dst_namespace="data", dst_statefulset="db")
    unknown = dict(namespace="shop", deployment="web", dst_namespace="data")   # no dst_* name: not an edge
    rows = rows_of(target("deployments", "web", edges=True), {
        ("to", "counts"): [sample("30", status_code="200", **to_db), sample("5", status_code="200", **unknown)],
        ("to", "buckets"): histogram({"50": "10", "+Inf": "10"}, **to_db),
    })
    assert len(rows) == 1
    row = rows[0]
    assert (row.direction, row.peer, row.success, dict(row.latency_ms)) == (
        Direction.TO, Ref("data", "db", "StatefulSet"), 30.0, {Measure.P99: 49.5, Measure.P90: 45.0, Measure.P50: 25.0})


def test_rows_are_sorted_by_namespace_then_name():
    rows = rows_of(target("deployments", namespace=None), {("", "counts"): [
        sample("1", status_code="200", namespace="b", deployment="a"),
        sample("1", status_code="200", namespace="a", deployment="z"),
        sample("1", status_code="200", namespace="a", deployment="axb"),
        sample("1", status_code="200", namespace="a", deployment="a.b"),
    ]})
    assert [(r.resource.namespace, r.resource.name) for r in rows] == [("a", "a.b"), ("a", "axb"), ("a", "z"), ("b", "a")]
