"""Issue 10 regressions that need no server: idle success rate, huge and malformed Prometheus values,
Go durations, label selectors validated at routing."""
from __future__ import annotations

import os

import orjson
import pytest

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


# Cases from Go's own parseDurationTests and parseDurationErrorTests (golang/go src/time/time_test.go).
@pytest.mark.parametrize("text, nanos", [
    ("0", 0), ("5s", 5 * 10**9), ("30s", 30 * 10**9), ("1478s", 1478 * 10**9), ("-5s", -5 * 10**9),
    ("+5s", 5 * 10**9), ("-0", 0), ("+0", 0), ("5.0s", 5 * 10**9), ("5.6s", 5 * 10**9 + 600 * 10**6),
    ("5.s", 5 * 10**9), (".5s", 500 * 10**6), ("1.0s", 10**9), ("1.00s", 10**9), ("1.004s", 1004 * 10**6),
    ("100.00100s", 100 * 10**9 + 1 * 10**6), ("10ns", 10), ("11us", 11 * 10**3), ("12µs", 12 * 10**3),
    ("12μs", 12 * 10**3), ("13ms", 13 * 10**6), ("14s", 14 * 10**9), ("15m", 15 * 60 * 10**9),
    ("16h", 16 * 3600 * 10**9), ("3h30m", (3 * 3600 + 30 * 60) * 10**9), ("-.5h", -1800 * 10**9),
    ("39h9m14.425s", (39 * 3600 + 9 * 60 + 14) * 10**9 + 425 * 10**6), ("52763797000ns", 52763797000),
    ("0.3333333333333333333h", 20 * 60 * 10**9), ("9223372036854775807ns", (1 << 63) - 1),
    ("9223372036854775.807us", (1 << 63) - 1), ("-9223372036854775808ns", -(1 << 63)),
    ("0.100000000000000000000h", 6 * 60 * 10**9),
])
def test_go_durations_accepted_as_go_does(text, nanos):
    from metrics_api.core.quantity import parse_go_duration
    assert round(parse_go_duration(text) * 1e9) == pytest.approx(nanos, rel=1e-15)


@pytest.mark.parametrize("text", [
    "", "3", "-", "s", ".", "-.", ".s", "+.s", "1d", "\x85\x85", "\xffff", "hello \xffff world",
    "9223372036854775810ns", "9223372036854775808ns", "-9223372036854775809ns", "9223372036854775.808us",
    "9223372036854ms775us808ns", "٣s", "³s", "5 m", " 5m", "5m ", "1e3s", "0x10s", "1_0s",
])
def test_go_durations_refused_as_go_does(text):
    from metrics_api.core.quantity import parse_go_duration
    with pytest.raises(ValueError):
        parse_go_duration(text)


def test_answer_cache_counts_its_keys_and_stays_within_its_bytes():
    """3,000 distinct junk query strings of 4 KB and Accept headers of 8 KB: the memory the cache holds
    (tracemalloc) stays under --cache-max-bytes."""
    import asyncio
    import tracemalloc

    from metrics_api.pipeline.answer_cache import RequestKey, ResponseCache

    limit = 1 << 20
    cache = ResponseCache(fresh_seconds=60, stale_seconds=0, max_bytes=limit)

    async def fill() -> None:
        async def body() -> bytes:
            return b"{}" * 100

        for i in range(3_000):
            query, accept = f"junk={i:08d}" + "q" * 4000, "application/json," + "a" * 8000
            await cache.get(RequestKey(("/apis/x", query, accept), len(query) + len(accept)), 1.0, body)

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(fill())
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert cache.bytes <= limit
    assert held < limit * 1.25, held


def test_route_memo_does_not_keep_oversized_keys():
    from metrics_api.core.memo import Memo
    memo: Memo[tuple[str, str], int] = Memo(max_entries=10, max_key_chars=100)
    calls = []
    for _ in range(2):
        memo.get(("/p", "x" * 200), lambda: calls.append(1) or 1)
        memo.get(("/p", "short"), lambda: calls.append(2) or 2)
    assert calls == [1, 2, 1]   # the long key is computed every time, the short one once


async def test_handshake_pacer_runs_a_few_steps_per_turn_in_order():
    """3,000 ClientHellos arriving together are handled a few per turn of the event loop, so requests on
    established connections (whose I/O runs in every turn) are not queued behind all of them."""
    import asyncio

    from metrics_api.http.listener import HandshakePacer

    pacer = HandshakePacer(asyncio.get_running_loop(), per_turn=2)
    ran: list[int] = []
    for i in range(7):
        pacer.run(lambda i=i: ran.append(i))
    assert ran == [0, 1]   # within the budget of this turn: at once
    seen = []
    for _ in range(4):
        await asyncio.sleep(0)   # one turn of the loop
        seen.append(len(ran))
    assert seen == [4, 6, 7, 7] and ran == list(range(7))


def test_heap_freed_below_a_live_block_is_returned_to_the_os():
    """glibc keeps memory freed under a block still in use (after a burst of TLS handshakes: ~60 MiB of
    the soak's RSS); the trimmer hands it back."""
    from metrics_api.http.memory import _malloc_trim
    from tests.perf.run import rss_kib

    trim = _malloc_trim()
    assert trim is not None   # glibc on the machines we run on
    blocks = [bytearray(4096) for _ in range(20_000)]   # 80 MiB of heap blocks (below the mmap threshold)
    pinned = bytearray(4096)   # allocated last: the top of the heap stays in use
    del blocks
    before = rss_kib(os.getpid(), "VmRSS")
    trim(0)
    returned = (before - rss_kib(os.getpid(), "VmRSS")) / 1024
    assert returned > 40, returned
    assert len(pinned) == 4096
