import math

import pytest

from metrics_api.core.quantity import format_go_duration, milli_quantity, parse_go_duration


@pytest.mark.parametrize("value, expected", [
    (296.875, "296875m"), (1000, "1k"), (12000, "12k"), (1.5e6, "1500k"), (10.123456, "10123m"),
    (0.0004, "0"), (294, "294"), (1500, "1500"), (1008.1, "1008100m"), (28.58, "28580m"), (1e6, "1M"),
    (0.5, "500m"), (1234567, "1234567"), (0.001, "1m"), (1.001, "1"), (99.99, "99990m"), (2500.5, "2500500m"),
    (0, "0"), (1e9, "1G"),
])
def test_milli_quantity_matches_apimachinery(value, expected):
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
