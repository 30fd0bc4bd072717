"""Kubernetes Quantity strings and Go durations, bit-compatible with apimachinery's formatting."""
from __future__ import annotations

import math
import re
from datetime import datetime, timezone

_SUFFIXES = {-3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}


def milli_quantity(value: float) -> str:
    """`resource.NewMilliQuantity(int64(value*1000), DecimalSI).String()`.

    Truncates toward zero like Go's float→int64 conversion. NaN, infinities and negative values
    (which a rate can never legitimately be) render as "0" instead of Go's garbage integers.
    """
    if not math.isfinite(value) or value <= 0:
        return "0"
    milli = int(value * 1000)
    if milli == 0:
        return "0"
    exponent = -3
    while milli % 10 == 0 and exponent < 18:
        milli //= 10
        exponent += 1
    while exponent % 3:
        milli *= 10
        exponent -= 1
    return f"{milli}{_SUFFIXES[exponent]}"


_SCALE = {suffix: 10.0 ** exponent for exponent, suffix in _SUFFIXES.items()}


def parse_quantity(text: str) -> float:
    """The value of a decimal-SI quantity as `milli_quantity` writes it (`991m`, `20`, `1k`). Raises ValueError."""
    scale = _SCALE.get(text[-1:]) if text[-1:].isalpha() else 1.0
    if scale is None:
        raise ValueError(f"invalid quantity {text!r}")
    return float(text[:-1] if text[-1:].isalpha() else text) * scale


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string such as `30s`, `1m30s`, `1.5h`, `250ms`. Raises ValueError."""
    if text == "0":
        return 0.0
    if not text or len(text) > 64:
        raise ValueError(f"invalid duration {text!r}")
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    if position != len(text):
        raise ValueError(f"invalid duration {text!r}")
    return total


def format_go_duration(seconds: float) -> str:
    """`time.Duration.String()` for durations of at least a millisecond: `30s`, `1m0s`, `1h30m0s`, `1.5s`."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    if nanos < 1_000_000_000:
        return f"{_trim(nanos / 1e6)}ms"
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = f"{_trim(rest / 1e9)}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return text


def _trim(number: float) -> str:
    return f"{number:.9f}".rstrip("0").rstrip(".")


def rfc3339(unix_seconds: float) -> str:
    """A Kubernetes timestamp: RFC 3339, UTC, whole seconds, `Z`."""
    return datetime.fromtimestamp(int(unix_seconds), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
