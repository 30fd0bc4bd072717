"""Rendered answers, reused: the hot path of identical requests, and stale-if-error.

A rendered body depends only on the request as parsed (path, route, the renderer Accept and the query
chose: a RequestKey) and the evaluation instant, which the fetcher quantizes to its cache TTL; so within
one instant an equivalent request gets the same bytes without planning, fetching, normalizing or
rendering again. Equivalent, not identical: query parameters the server ignores (as kube-apiserver
does) change nothing, so a stream of junk query strings is a stream of cache hits, not of computations
and entries (it was two fifths of the server's CPU in the hostile soak, tests/perf/RESULTS.md). Concurrent identical requests share
one computation. While Prometheus fails (503/504), the last good body of a request may be served for a
bounded time, marked with a `Warning` header. Everything is bounded in bytes."""
from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from cachetools import TTLCache

from metrics_api.core.errors import ApiError
from metrics_api.core.quantity import rfc3339
from metrics_api.core.singleflight import SingleFlight

UPSTREAM_FAILURES = (503, 504)


class RequestKey:
    """What a rendered answer depends on (`parts`, hashable), with `size`: the characters the client sent
    for it, counted against the cache's bytes. The hash is computed once: the caller memoizes a request's
    key, so a repeated request's lookup is mostly an identity check."""

    __slots__ = ("_hash", "parts", "size")

    def __init__(self, parts: Hashable, size: int) -> None:
        self.parts, self.size, self._hash = parts, size, hash(parts)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, RequestKey) and self._hash == other._hash
                                 and self.parts == other.parts)


@dataclass(frozen=True)
class Body:
    content: bytes
    at: float            # evaluation instant the body was computed for
    warning: str = ""    # a `Warning` header value when served stale


@dataclass(frozen=True)
class _Entry:
    body: Body           # kept whole: a fresh hit returns it without building a new one
    stored: float        # monotonic time, for the stale-if-error age
    key_bytes: int       # what the key holds comes from the client (up to 8 KiB of query, 16 KiB of Accept)


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
                self._entries[key] = _Entry(body, time.monotonic(), key.size)
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


# Per entry besides the body and the key's characters: the RequestKey and its tuple, the
# _Entry and Body objects, TTLCache's link node and the key's copy in the `_hits` dict (measured: ~600 bytes).
ENTRY_OVERHEAD = 600


def _size(entry: _Entry) -> int:
    return len(entry.body.content) + entry.key_bytes + ENTRY_OVERHEAD


def _header_text(message: str) -> str:
    """A message safe inside a quoted header value: printable ASCII, no quotes, bounded."""
    cleaned = "".join(c if " " <= c <= "~" and c not in '"\\' else " " for c in message)
    return cleaned[:200]
