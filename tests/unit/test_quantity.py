import math

import pytest

from metrics_api.core.quantity import format_go_duration, milli_quantity, parse_go_duration


# Expected strings written by hand from Go: `resource.NewMilliQuantity(int64(v*1000), resource.DecimalSI).String()`
# (k8s.io/apimachinery/pkg/api/resource: int64(f) truncates toward zero; String() → CanonicalizeBytes →
# int64Amount.AsCanonicalBytes strips trailing zeros of the mantissa into the exponent, then multiplies by
# 10 or 100 until the exponent is a multiple of 3, and the DecimalSI suffixer names it: m, "", k, M, G, T, P).
@pytest.mark.parametrize("value, expected", [
    (0, "0"),                       # IsZero → "0"
    (0.5, "500m"), (0.001, "1m"), (0.007, "7m"),
    (1, "1"), (10, "10"), (100, "100"), (294, "294"),
    (1000, "1k"), (10000, "10k"), (12000, "12k"), (1e6, "1M"), (1e9, "1G"), (1e12, "1T"), (3e15, "3P"),
    (1.5, "1500m"),                 # 1500 × 10^-3: 15 × 10^-1, back to 1500 × 10^-3
    (1.1, "1100m"), (296.875, "296875m"), (28.58, "28580m"), (99.99, "99990m"), (9.166, "9166m"),
    (1001, "1001"), (1010, "1010"),  # 101 × 10^1 → ×10 → 1010 × 10^0
    (1100, "1100"), (1500, "1500"),  # 11 × 10^2 → ×100 → 1100 × 10^0
    (1.5e6, "1500k"), (2.5e6, "2500k"),  # 25 × 10^5 → ×100 → 2500 × 10^3
    (1234567, "1234567"), (1008.1, "1008100m"), (2500.5, "2500500m"), (1000.5, "1000500m"),
    (0.1 + 0.2, "300m"),            # 300.00000000000006 truncates to 300
])
def test_milli_quantity_matches_apimachinery(value, expected):
    assert milli_quantity(value) == expected


# Where truncating (Go's int64 conversion, CONTRACT §3) and rounding disagree: each of these would read
# one milli-unit higher if rounded.
@pytest.mark.parametrize("value, expected", [
    (0.0004, "0"), (0.0009, "0"),        # below 1m: truncates to zero, rounding would give "0" / "1m"
    (0.0019, "1m"),                      # 1.9 → 1
    (0.9999, "999m"),                    # rounding: "1"
    (1.9996, "1999m"),                   # 1999.6000000000001 → 1999; rounding: "2"
    (2.0004, "2"),                       # 2000.3999999999999 → 2000 → "2" (rounding agrees: a control)
    (999.9999, "999999m"),               # rounding: "1k"
    (12345.6789, "12345678m"),           # rounding: "12345679m"
    (10.123456, "10123m"),
    (1.001, "1"),                        # 1.001 * 1000 = 1000.9999999999999 in float64 → 1000 → "1"
    (1.011, "1010m"),                    # 1010.9999999999999 → 1010 → 101 × 10^-2 → ×10 → 1010m
    (2.002, "2001m"),                    # 2001.9999999999998 → 2001
    (2.01, "2009m"),                     # 2009.9999999999998 → 2009
])
def test_milli_quantity_truncates_toward_zero(value, expected):
    assert milli_quantity(value) == expected


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -3.5])
def test_milli_quantity_never_emits_nan_or_negative(value):
    assert milli_quantity(value) == "0"


@pytest.mark.parametrize("text, seconds", [
    ("30s", 30), ("1m", 60), ("1m30s", 90), ("2h", 7200), ("1.5s", 1.5), ("250ms", 0.25), ("1h2m3s", 3723),
    ("0", 0), (".5m", 30), ("-1s", -1), ("+5m", 300),
])
def test_parse_go_duration(text, seconds):
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "30", "s", "1d", "1m 30s", "30s;", "1e3s", "abc"])
def test_parse_go_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_go_duration(text)


@pytest.mark.parametrize("seconds, text", [
    (30, "30s"), (60, "1m0s"), (90, "1m30s"), (7200, "2h0m0s"), (86400, "24h0m0s"), (1.5, "1.5s"), (0.25, "250ms"),
    (3723, "1h2m3s"),
])
def test_format_go_duration_matches_time_duration_string(seconds, text):
    assert format_go_duration(seconds) == text
