"""Human cells for traffic numbers, shared by the server's Table and the `kubectl traffic` client so
that both print a number the same way."""
from __future__ import annotations

import math

NO_DATA = "-"


def format_percent(success: float, total: float) -> str:
    """`99.50%`; truncated (not rounded) so any failure keeps it below `100.00%`; `-` without traffic."""
    if total <= 0:
        return NO_DATA
    return f"{math.floor(success / total * 10000) / 100:.2f}%"


def format_rate(per_second: float) -> str:
    """Requests per second with about three significant digits: `0.05`, `2.5`, `12.3`, `150`."""
    if per_second <= 0:
        return "0"
    if per_second >= 100:
        return str(round(per_second))
    digits = 1 if per_second >= 10 else 2
    return _trim(f"{per_second:.{digits}f}")


def format_latency(ms: float | None) -> str:
    """Human latency: `0.5ms`, `9.2ms`, `12ms`, `390ms`, `1.2s`, `15s`; `-` without data."""
    if ms is None:
        return NO_DATA
    if ms < 10:
        return _trim(f"{ms:.1f}") + "ms"
    if round(ms) < 1000:
        return f"{round(ms)}ms"
    seconds = ms / 1000
    if seconds < 10:
        return _trim(f"{seconds:.1f}") + "s"
    return f"{round(seconds)}s"


def _trim(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else number
