"""Rendered answers, reused: the hot path of identical requests, and stale-if-error.

A rendered body depends only on the request (path, query string, Accept) and the evaluation instant,
which the fetcher quantizes to its cache TTL; so within one instant an identical request gets the same
bytes without planning, fetching, normalizing or rendering again. Concurrent identical requests share
one computation. While Prometheus fails (503/504), the last good body of a request may be served for a
bounded time, marked with a `Warning` header. Everything is bounded in bytes."""
from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cachetools import TTLCache

from metrics_api.core.errors import ApiError
from metrics_api.core.quantity import rfc3339
from metrics_api.core.singleflight import SingleFlight

RequestKey = tuple[str, str, str]   # (path, query string, Accept)
UPSTREAM_FAILURES = (503, 504)


@dataclass(frozen=True)
class Body:
    content: bytes
    at: float            # evaluation instant the body was computed for
    warning: str = ""    # a `Warning` header value when served stale


@dataclass(frozen=True)
class _Entry:
    body: Body           # kept whole: a fresh hit returns it without building a new one
    stored: float        # monotonic time, for the stale-if-error age
    key_bytes: int       # the key's strings come from the client (up to 8 KiB of query, 16 KiB of Accept)


class ResponseCache:
    def __init__(self, *, fresh_seconds: float, stale_seconds: float, max_bytes: int) -> None:
        """`fresh_seconds` = the fetcher's TTL (0: no reuse); `stale_seconds` = how old an answer
        may be served while Prometheus fails (0: never)."""
        self.fresh_seconds = fresh_seconds
        self.stale_seconds = stale_seconds
        keep = max(2 * fresh_seconds, stale_seconds)
        self._entries: TTLCache[RequestKey, _Entry] | None = (
            TTLCache(maxsize=max_bytes, ttl=keep, getsizeof=_size) if keep > 0 and max_bytes > 0 else None
        )
        self._flights: SingleFlight[tuple[RequestKey, float], bytes] = SingleFlight()
        # Fresh hits of the current instant, found without TTLCache's bookkeeping (~1/10 of a cached GET's
        # own work). Only bodies still in `_entries` are here: emptied whenever an entry is stored (which
        # may evict others) and when the instant changes; entries of the current instant never expire.
        self._hits: dict[RequestKey, Body] = {}
        self._hits_at: float | None = None

    @property
    def bytes(self) -> int:
        return int(self._entries.currsize) if self._entries is not None else 0

    async def get(self, key: RequestKey, at: float, compute: Callable[[], Awaitable[bytes]]) -> Body:
        if at == self._hits_at:
            hit = self._hits.get(key)
            if hit is not None:
                return hit
        else:
            self._hits, self._hits_at = {}, at
        entry = self._entries.get(key) if self._entries is not None else None
        if entry is not None and self.fresh_seconds > 0 and entry.body.at == at:
            self._hits[key] = entry.body
            return entry.body
        try:
            content = await self._flights.run((key, at), compute)
        except ApiError as error:
            stale = self._stale(entry, error)
            if stale is None:
                raise
            return stale
        body = Body(content, at)
        if self._entries is not None and (entry is None or entry.body.at <= at):
            with contextlib.suppress(ValueError):   # cachetools' "value too large": not kept
                self._entries[key] = _Entry(body, time.monotonic(), sum(map(len, key)))
            self._hits.clear()
        return body

    def _stale(self, entry: _Entry | None, error: ApiError) -> Body | None:
        if entry is None or error.code not in UPSTREAM_FAILURES or self.stale_seconds <= 0:
            return None
        age = time.monotonic() - entry.stored
        if age > self.stale_seconds:
            return None
        warning = (f'299 - "stale answer computed at {rfc3339(entry.body.at)} ({age:.0f}s ago): '
                   f'{_header_text(error.message)}"')
        return Body(entry.body.content, entry.body.at, warning)


# Per entry besides the body and the key's characters: the key tuple and its three str headers, the
# _Entry and Body objects, TTLCache's link node and the key's copy in the `_hits` dict (measured: ~600 bytes).
ENTRY_OVERHEAD = 600


def _size(entry: _Entry) -> int:
    return len(entry.body.content) + entry.key_bytes + ENTRY_OVERHEAD


def _header_text(message: str) -> str:
    """A message safe inside a quoted header value: printable ASCII, no quotes, bounded."""
    cleaned = "".join(c if " " <= c <= "~" and c not in '"\\' else " " for c in message)
    return cleaned[:200]
