"""Issue 10 regressions that need no server: idle success rate, huge and malformed Prometheus values,
Go durations, label selectors validated at routing."""
from __future__ import annotations

import orjson

from metrics_api.apis.smi.render import render_json
from metrics_api.core.kinds import BY_PLURAL
from metrics_api.core.model import Answer, Ref, Row, Target

DEPLOYMENTS = (BY_PLURAL["deployments"],)


def _metrics(row: Row) -> dict[str, str]:
    answer = Answer(Target("deployments", DEPLOYMENTS, "shop", "web", False, 30.0), [row], 1.7e9, "/p", None)
    return {m["name"]: m["value"] for m in orjson.loads(render_json(answer))["metrics"]}


def test_idle_resource_has_no_success_rate_but_zero_counts_rate_and_latencies():
    idle = _metrics(Row(Ref("shop", "web", "Deployment"), "", None))
    assert idle == {"p99_response_latency": "0", "p90_response_latency": "0", "p50_response_latency": "0",
                    "success_count": "0", "failure_count": "0", "request_rate": "0"}
    busy = _metrics(Row(Ref("shop", "web", "Deployment"), "", None, success=0, failure=3))
    assert busy["success_rate"] == "0"   # all failed: a real 0, kept


def test_quantities_beyond_int64_clamp_to_the_largest_int64_quantity():
    from metrics_api.core.quantity import milli_quantity
    assert milli_quantity(2.0 ** 63) == milli_quantity(1e300) == "9223372036854775807m"
    assert milli_quantity(float("inf")) == "0"   # not a measurement: never reaches here after normalize
    assert milli_quantity(9.22e15) == "9220T"    # just inside the range: apimachinery's canonical form
