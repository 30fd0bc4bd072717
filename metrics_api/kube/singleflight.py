"""A TTL + LRU cache whose misses are coalesced: concurrent lookups of one key share one call."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache

V = TypeVar("V")


class CoalescingCache(Generic[V]):
    """Values (whatever they say: allowed or denied, valid or not) live `ttl` seconds, at most
    `max_entries` of them (least recently used go first). Exceptions are not cached."""

    def __init__(self, ttl: float, max_entries: int = 8192) -> None:
        self._cache: TTLCache[Hashable, V] = TTLCache(maxsize=max_entries, ttl=ttl)
        self._in_flight: dict[Hashable, asyncio.Future[V]] = {}
        self.calls = 0   # computations started (misses that were not coalesced), for our metrics and tests

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        try:
            return self._cache[key]
        except KeyError:
            pass
        shared = self._in_flight.get(key)
        if shared is None:
            self.calls += 1
            shared = asyncio.ensure_future(self._run(key, compute))
            self._in_flight[key] = shared
            shared.add_done_callback(lambda done: self._forget(key, done))
        # shield: a caller that goes away must not cancel the call others wait for.
        return await asyncio.shield(shared)

    async def _run(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        value = await compute()
        self._cache[key] = value
        return value

    def _forget(self, key: Hashable, done: asyncio.Future[V]) -> None:
        self._in_flight.pop(key, None)
        if not done.cancelled():
            done.exception()   # retrieved so an error nobody awaits any more is not logged as lost
