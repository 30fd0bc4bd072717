"""Kubernetes Quantity strings and Go durations, bit-compatible with apimachinery's formatting."""
from __future__ import annotations

import math
from datetime import datetime, timezone

_SUFFIXES = {-3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
MAX_INT64 = (1 << 63) - 1


def clamp_int64(value: float) -> int:
    """`value` truncated toward zero and clamped to int64, the range of a Go client's integers (and of a
    Table's integer cells). Go's own float→int64 conversion of an out-of-range value is implementation
    defined (amd64 gives math.MinInt64, a negative count); the nearest representable value is the clamp."""
    return min(int(value), MAX_INT64)


def milli_quantity(value: float) -> str:
    """`resource.NewMilliQuantity(int64(value*1000), DecimalSI).String()`.

    Truncates toward zero like Go's float→int64 conversion. Values of 2^63 milli-units and more (about
    9.2e15) render as the largest int64 quantity, `9223372036854775807m`, instead of Go's wrapped
    negative. NaN, infinities and negative values (which a rate can never legitimately be) render as
    "0" instead of Go's garbage integers.
    """
    if not math.isfinite(value) or value <= 0:
        return "0"
    milli = clamp_int64(value * 1000)
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


# Nanoseconds per unit, as Go's time.unitMap (golang/go src/time/format.go).
_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
                   "m": 60_000_000_000, "h": 3_600_000_000_000}
_DIGITS = "0123456789"   # ASCII only: str.isdigit() would accept "٣" and "³", Go does not
_MAX_NANOS = 1 << 63


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration (`30s`, `1m30s`, `1.5h`, `+5m`, `-250ms`), accepted and refused exactly as
    Go's time.ParseDuration does (golang/go src/time/format.go): an optional sign, then one or more
    decimal numbers each with a unit, ASCII digits only, int64 nanoseconds. Raises ValueError."""
    rest = text
    negative = rest[:1] == "-"
    if rest[:1] in ("-", "+"):
        rest = rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise _bad_duration(text)
    nanos = 0
    while rest:
        number, rest = _duration_part(text, rest)
        nanos += number
        if nanos > _MAX_NANOS:
            raise _bad_duration(text)
    if not negative and nanos > _MAX_NANOS - 1:
        raise _bad_duration(text)
    return (-nanos if negative else nanos) / 1e9


def _duration_part(text: str, rest: str) -> tuple[int, str]:
    """The nanoseconds of the leading `[0-9]*(.[0-9]*)?unit` of `rest`, and what follows it."""
    whole_digits = _leading(rest, _DIGITS)
    rest = rest[len(whole_digits):]
    fraction_digits = ""
    if rest[:1] == ".":
        fraction_digits = _leading(rest[1:], _DIGITS)
        rest = rest[1 + len(fraction_digits):]
    if not whole_digits and not fraction_digits:
        raise _bad_duration(text)
    unit_text = _leading(rest, _DIGITS + ".", until=True)
    rest = rest[len(unit_text):]
    if not unit_text:
        raise ValueError(f"time: missing unit in duration {text!r}")
    unit = _DURATION_UNITS.get(unit_text)
    if unit is None:
        raise ValueError(f"time: unknown unit {unit_text!r} in duration {text!r}")
    whole = int(whole_digits or "0")
    if whole > _MAX_NANOS // unit:
        raise _bad_duration(text)
    nanos = whole * unit
    fraction, scale = _go_fraction(fraction_digits)
    if fraction > 0:
        # Go computes the fraction in float64 (nanosecond-accurate up to an hour) and truncates.
        nanos += int(float(fraction) * (float(unit) / scale))
        if nanos > _MAX_NANOS:
            raise _bad_duration(text)
    return nanos, rest


def _leading(text: str, chars: str, until: bool = False) -> str:
    """The longest prefix of `text` made of `chars` (or, with `until`, of anything else)."""
    end = 0
    while end < len(text) and (text[end] in chars) != until:
        end += 1
    return text[:end]


def _go_fraction(digits: str) -> tuple[int, float]:
    """Go's leadingFraction: the digits as an integer and 10^len, ignoring digits past int64 precision."""
    value, scale = 0, 1.0
    for digit in digits:
        if value > (_MAX_NANOS - 1) // 10:
            break
        candidate = value * 10 + int(digit)
        if candidate > _MAX_NANOS:
            break
        value, scale = candidate, scale * 10
    return value, scale


def _bad_duration(text: str) -> ValueError:
    return ValueError(f"time: invalid duration {text!r}")


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
