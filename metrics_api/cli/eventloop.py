"""Which asyncio event loop runs the server.

uvloop (libuv) is the default. Measured with tests/perf (`--only cached`, server and ceiling on the
same loop, tests/perf/RESULTS.md): on a busy machine the cached GET served 14–19 % more requests on
uvloop (5,881 vs 4,962 and 6,469 vs 5,674 req/s, two runs); on the quiet machine the two loops were
within run-to-run noise of each other. The hostile soak of issue 10 (10 minutes, 3,000 connections)
passed on uvloop. `--event-loop asyncio` is there for platforms without a uvloop wheel and for
debugging."""
from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class EventLoop(enum.Enum):
    UVLOOP = "uvloop"
    ASYNCIO = "asyncio"


def run(main: Coroutine[Any, Any, T], loop: EventLoop) -> T:
    """`asyncio.run(main)` on the chosen loop."""
    with asyncio.Runner(loop_factory=_factory(loop)) as runner:
        return runner.run(main)


def _factory(loop: EventLoop) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if loop is EventLoop.ASYNCIO:
        return None
    import uvloop   # imported only when chosen: `--event-loop asyncio` works without it

    return uvloop.new_event_loop
