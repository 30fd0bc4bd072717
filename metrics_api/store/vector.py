"""Large instant vectors, decoded a batch of series at a time while they are read.

A 5,000-pod list's bucket query answers 130,000 series (14 MB of JSON). Decoded at once, they are
~100 MB of Python dicts, lists and strings, most of the server's peak memory; read in batches of
BATCH series, they cost the body plus one batch. Normalizing reads each series once, in order, and
keeps only sums, so nothing needs them all at once (tests/perf/RESULTS.md has the measurements).

How the series are found without a JSON parser of our own: Prometheus (and VictoriaMetrics, Thanos,
Mimir, which use its encoding) writes the vector compactly, each series as `{"metric":{…},"value":[…]}`
separated by commas. The bytes `{"metric":` can only be the start of a series: inside a JSON string a
`"` is always escaped as `\\"`. So every occurrence is a series start; a slice from one start to the
comma before another is a run of complete series, decoded by orjson as an array. Anything else (other
spacing, a body that does not parse as expected) is decoded whole, as small answers are.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

import orjson

Series = dict[str, Any]   # {"metric": {label: value}, "value": [timestamp, "number"]}

LAZY_BYTES = 1 << 20   # smaller answers are decoded at once: the saving would not pay for the scan
BATCH = 2048           # series decoded together (~1.6 MB of objects for bucket series)
SERIES_START = b'{"metric":'
COMMA, OPEN, CLOSE = ord(","), ord("["), ord("]")


class LazyVector(Sequence[Series]):
    """The series of one instant-vector answer, decoded when iterated. `check(series)` returns an
    ApiError-raising problem check (store/prometheus.py) applied to every series as it is decoded."""

    def __init__(self, body: bytearray, starts: list[int], last: Series, check: Callable[[Any], None]) -> None:
        self._body = body
        self._starts = starts
        self._last = last
        self._check = check

    @property
    def nbytes(self) -> int:
        """What it holds: the body, and the series offsets."""
        return len(self._body) + 8 * len(self._starts)

    def __len__(self) -> int:
        return len(self._starts)

    def __iter__(self) -> Iterator[Series]:
        leading = len(self._starts) - 1   # every series but the last, which was decoded with the envelope
        for first in range(0, leading, BATCH):
            yield from self._batch(first, min(first + BATCH, leading))
        yield self._last

    @overload
    def __getitem__(self, index: int) -> Series: ...

    @overload
    def __getitem__(self, index: slice) -> list[Series]: ...

    def __getitem__(self, index: int | slice) -> Series | list[Series]:
        if isinstance(index, slice):
            return list(self)[index]
        position = range(len(self))[index]   # IndexError as a list raises it
        if position == len(self) - 1:
            return self._last
        return self._batch(position, position + 1)[0]

    def _batch(self, first: int, end: int) -> list[Series]:
        """Series first..end-1 (end < len): the bytes from the `[` or `,` before the first to the `,`
        before series `end`, read as an array by turning those two bytes into brackets for the moment."""
        body, start, stop = self._body, self._starts[first] - 1, self._starts[end] - 1
        opening = body[start]
        body[start], body[stop] = OPEN, CLOSE
        try:
            batch = orjson.loads(memoryview(body)[start:stop + 1])
        finally:
            body[start], body[stop] = opening, COMMA
        for series in batch:
            self._check(series)
        return batch


def lazy_vector(body: bytearray, check: Callable[[Any], None]) -> LazyVector | None:
    """A LazyVector of a successful instant-vector answer, or None (the caller decodes it whole) when the
    body is small, an error, another result type, or not laid out as described above. The vector keeps
    `body` (not a copy) and changes two bytes of it for a moment while it decodes a batch."""
    if len(body) < LAZY_BYTES:
        return None
    starts = _series_starts(body)
    if len(starts) < 2 or any(body[start - 1] != COMMA for start in starts[1:]) or body[starts[0] - 1] != OPEN:
        return None
    # The envelope with only the last series: status, result type and the last series in one small parse.
    try:
        document = orjson.loads(bytes(body[:starts[0]]) + bytes(body[starts[-1]:]))
    except orjson.JSONDecodeError:
        return None
    data = document.get("data") if isinstance(document, dict) and document.get("status") == "success" else None
    result = data.get("result") if isinstance(data, dict) and data.get("resultType") == "vector" else None
    if not isinstance(result, list) or len(result) != 1:
        return None
    check(result[0])
    return LazyVector(body, starts, result[0], check)


def _series_starts(body: bytearray) -> list[int]:
    starts, position = [], body.find(SERIES_START)
    while position >= 0:
        starts.append(position)
        position = body.find(SERIES_START, position + len(SERIES_START))
    return starts
