"""Which asyncio event loop runs the server.

uvloop (libuv) is the default: measured with tests/perf (`--only cached`), the cached GET went from
<see tests/perf/RESULTS.md> on asyncio's selector loop to <...> on uvloop, and the bare aiohttp ceiling
it is compared with gains alike, so the comparison stays on one loop (`python -m tests.perf.ceiling
--event-loop`). `--event-loop asyncio` is there for platforms without a uvloop wheel and for debugging."""
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
