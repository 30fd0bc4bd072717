"""The serving process's memory and pauses under many connections (tests/perf/RESULTS.md, hostile soak).

The cyclic collector pauses the whole event loop for as long as it scans: 60–340 ms per full collection
with 3,000 connections open. What startup made (modules, packs, the application) lives as long as the
process, so it is frozen out of every scan; and the youngest generation is collected every 20,000 net
allocations instead of 700, so that a request's short-lived objects die before a collection instead of
being promoted to the old generation, whose growth is what triggers full collections (4 a minute → 1).
The same default made decoding and normalizing a 5,000-pod list's 130,000 bucket series cost 0.8–1.05 s
of CPU instead of ~0.6 s, the collector rescanning a heap grown by those very objects.

glibc's malloc keeps memory freed in the middle of its heap: after a burst of thousands of TLS
handshakes (OpenSSL holds a 16 KiB buffer per handshake in progress) RSS stayed at the burst's peak,
~60 MiB above what was live. malloc_trim hands such pages back; it runs in a worker thread (ctypes
releases the GIL) every 5 s, 5–30 ms of that thread each time. Elsewhere than glibc it is absent
and nothing is done."""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
from collections.abc import Callable

YOUNG_COLLECTION_ALLOCATIONS = 20_000
TRIM_EVERY_SECONDS = 5.0


def tune_collector() -> None:
    """Once startup is done."""
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS, *gc.get_threshold()[1:])


async def keep_returning_freed_memory(every: float = TRIM_EVERY_SECONDS) -> None:
    trim = _malloc_trim()
    if trim is None:
        return
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(every)
        await loop.run_in_executor(None, trim, 0)


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):   # not glibc
        return None
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim
