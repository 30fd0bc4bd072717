"""Large instant vectors decoded as they are read (store/vector.py) give exactly the series a whole decode
gives, whatever the label values hold, and fall back to a whole decode for any other layout."""
from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics_api.core.errors import ApiError
from metrics_api.store import vector as module
from metrics_api.store.prometheus import check_series
from metrics_api.store.vector import LazyVector, lazy_vector

# Label values that look like the structure the scan looks for, or could break a naive split.
TRICKY = st.sampled_from(['{"metric":', '},{"metric":{', '\\', '"', ',', '[', ']', '{"metric":{"le":"1"},"value":[1,"2"]}'])
VALUE = st.one_of(TRICKY, st.text(max_size=12), st.lists(TRICKY, max_size=3).map("".join))
SERIES = st.builds(lambda labels, ts, value: {"metric": labels, "value": [ts, value]},
                   st.dictionaries(st.sampled_from(["le", "pod", "namespace", "x"]), VALUE, max_size=4),
                   st.integers(0, 2**40) | st.floats(0, 1e10, allow_nan=False),
                   st.sampled_from(["0", "1.5", "NaN", "+Inf", "1e-300"]))


def answer(series: list[dict], **extra) -> bytearray:
    return bytearray(orjson.dumps({"status": "success", "data": {"resultType": "vector", "result": series}, **extra}))


def check(series):
    check_series("http://store", series)


@pytest.fixture(autouse=True)
def small_thresholds(monkeypatch):
    monkeypatch.setattr(module, "LAZY_BYTES", 0)
    monkeypatch.setattr(module, "BATCH", 3)


@settings(max_examples=300)
@given(st.lists(SERIES, min_size=2, max_size=20), st.booleans())
def test_read_in_batches_equals_decoded_whole(series, warnings):
    body = answer(series, **({"warnings": ['},{"metric":{"a":"b"}}]']} if warnings else {}))
    original = bytes(body)
    lazy = lazy_vector(body, check)
    assert isinstance(lazy, LazyVector)
    assert list(lazy) == series and list(lazy) == series   # twice: the body is restored after each batch
    assert len(lazy) == len(series) and lazy[0] == series[0] and lazy[-1] == series[-1] and lazy[1:3] == series[1:3]
    assert bytes(body) == original


def test_other_layouts_and_answers_are_decoded_whole():
    series = [{"metric": {"pod": "a"}, "value": [1, "2"]}, {"metric": {"pod": "b"}, "value": [1, "3"]}]
    spaced = bytearray(json.dumps({"status": "success", "data": {"resultType": "vector", "result": series}}).encode())
    assert lazy_vector(spaced, check) is None   # `{"metric": ` with a space
    assert lazy_vector(answer(series[:1]), check) is None   # one series: nothing to save
    assert lazy_vector(bytearray(orjson.dumps({"status": "error", "errorType": "bad_data", "error": "x",
                                               "data": {"resultType": "vector", "result": series}})), check) is None
    assert lazy_vector(bytearray(orjson.dumps({"status": "success", "data": {"resultType": "matrix",
                                                                             "result": series}})), check) is None


def test_a_series_of_the_wrong_shape_is_a_500_naming_the_store():
    good = {"metric": {"pod": "a"}, "value": [1, "2"]}
    series = [good] * 4 + [{"metric": {"pod": 7}, "value": [1, "2"]}] + [good] * 2
    lazy = lazy_vector(answer(series), check)
    with pytest.raises(ApiError) as raised:
        list(lazy)
    assert raised.value.code == 500 and "http://store" in raised.value.message


def test_small_answers_are_decoded_whole(monkeypatch):
    monkeypatch.setattr(module, "LAZY_BYTES", 1 << 20)
    assert lazy_vector(answer([{"metric": {}, "value": [1, "2"]}] * 3), check) is None
