"""A bounded memo for pure, per-request work on the hot path (routing a path, choosing a renderer): a
cached GET costs ~100 µs of CPU, and redoing such work for every identical request was a tenth of it.
Only results are kept; a call that raises is not remembered, so errors are raised again every time."""
from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K", bound=tuple[str | None, ...])
V = TypeVar("V")


class Memo(Generic[K, V]):
    """Keys are tuples of request strings; a key longer than `max_key_chars` in all is computed every
    time instead of kept, so the memo holds at most max_entries × max_key_chars characters of keys
    however long the paths, query strings and Accept headers clients send (legitimate ones are short)."""

    def __init__(self, max_entries: int = 1024, max_key_chars: int = 2048) -> None:
        self.max_entries = max_entries
        self.max_key_chars = max_key_chars
        self._values: dict[K, V] = {}

    def get(self, key: K, compute: Callable[[], V]) -> V:
        try:
            return self._values[key]
        except KeyError:
            pass
        value = compute()
        if sum(len(part) for part in key if part) > self.max_key_chars:
            return value
        if len(self._values) >= self.max_entries:   # keys come from clients: drop the oldest one
            del self._values[next(iter(self._values))]
        self._values[key] = value
        return value
