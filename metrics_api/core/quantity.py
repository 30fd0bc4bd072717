"""Kubernetes Quantity strings and Go durations, bit-compatible with apimachinery's formatting."""
from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from fractions import Fraction

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


_QUANTITY = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?")
_QUANTITY_SCALE = {"": Fraction(1), "m": Fraction(1, 1000), "k": Fraction(10**3), "M": Fraction(10**6),
                   "G": Fraction(10**9), "T": Fraction(10**12), "P": Fraction(10**15), "E": Fraction(10**18),
                   "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30), "Ti": Fraction(2**40),
                   "Pi": Fraction(2**50), "Ei": Fraction(2**60)}


def parse_quantity(text: str | float) -> Fraction:
    """A Kubernetes quantity (`500m`, `1`, `1.5k`, `2Ki`, `1e3`) as an exact fraction; ValueError otherwise.
    YAML hands plain numbers over as int or float."""
    if isinstance(text, bool):
        raise ValueError(f"not a quantity: {text!r}")   # noqa: TRY004 (a bad YAML value, reported as such)
    if isinstance(text, float | int):
        return Fraction(str(text))
    match = _QUANTITY.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not a quantity: {text!r}")
    number, suffix, exponent = match.groups()
    value = Fraction(number)
    return value * (Fraction(10) ** int(exponent) if exponent else _QUANTITY_SCALE[suffix or ""])
