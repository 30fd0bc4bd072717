"""Single flight: concurrent calls for one key share one computation (the only implementation; the
fetcher, the answer cache and the Kubernetes caches all use it)."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._in_flight: dict[K, asyncio.Future[V]] = {}

    def in_flight(self, key: K) -> bool:
        return key in self._in_flight

    async def run(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        """`compute()`'s result, shared with every concurrent caller of the same key."""
        shared = self._in_flight.get(key)
        if shared is None:
            shared = asyncio.ensure_future(compute())
            self._in_flight[key] = shared
            shared.add_done_callback(lambda done: self._forget(key, done))
        # shield: a caller that goes away must not cancel the computation others wait for.
        return await asyncio.shield(shared)

    def _forget(self, key: K, done: asyncio.Future[V]) -> None:
        self._in_flight.pop(key, None)
        if not done.cancelled():
            done.exception()   # retrieved so an error nobody awaits any more is not logged as lost


class CoalescingCache(Generic[V]):
    """A TTL + LRU cache whose misses fly once. Values (whatever they say: allowed or denied, valid or
    not) live `ttl` seconds, at most `max_entries` of them (least recently used go first). Exceptions
    are not cached."""

    def __init__(self, ttl: float, max_entries: int = 8192) -> None:
        self._cache: TTLCache[Hashable, V] = TTLCache(maxsize=max_entries, ttl=ttl)
        self._flights: SingleFlight[Hashable, V] = SingleFlight()
        self.calls = 0   # computations started (misses that were not coalesced), for our metrics and tests

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        try:
            return self._cache[key]
        except KeyError:
            pass
        if not self._flights.in_flight(key):
            self.calls += 1
        return await self._flights.run(key, lambda: self._store(key, compute))

    async def _store(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        value = await compute()
        self._cache[key] = value
        return value
