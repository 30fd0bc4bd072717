"""v1alpha1 answers stay byte-identical: the renderings of fixed answers equal the files the renderer
wrote before v1alpha2 existed (tests/unit/golden/), for JSON and for Tables."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from metrics_api.apis.smi.table import renderer_for
from metrics_api.core.model import Side
from tests.unit.golden_answers import answers

GOLDEN = Path(__file__).parent / "golden"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
CASES = [(name, accept, query, suffix) for name in answers()
         for accept, query, suffix in ((None, {}, ""), (TABLE, {"includeObject": "Metadata"}, ".table-Metadata"),
                                       (TABLE, {"includeObject": "Object"}, ".table-Object"))]


@pytest.mark.parametrize("name, accept, query, suffix", CASES)
def test_v1alpha1_rendering_is_unchanged(name, accept, query, suffix):
    answer = answers()[name]
    # Sides set on the rows (as the pipeline now sets them) must not show in v1alpha1.
    answer = replace(answer, rows=[replace(row, side=Side.SERVER) for row in answer.rows])
    assert renderer_for(accept, query)(answer) == (GOLDEN / f"{name}{suffix}.json").read_bytes()


def test_v1alpha2_adds_side_and_backend_in_sdk_order():
    answer = answers()["edges"]
    answer = replace(answer, target=replace(answer.target, version="v1alpha2"),
                     rows=[replace(row, side=Side.CLIENT) for row in answer.rows])
    body = orjson.loads(renderer_for(None, {})(answer))
    item = body["items"][0]
    assert body["apiVersion"] == item["apiVersion"] == "metrics.smi-spec.io/v1alpha2"
    assert list(item) == ["kind", "apiVersion", "metadata", "timestamp", "window", "resource", "edge", "backend",
                          "metrics"]
    assert list(item["edge"]) == ["direction", "side", "resource"]
    assert item["edge"]["side"] == "client" and item["backend"] is None
    assert item["metadata"]["selfLink"].startswith("/apis/metrics.smi-spec.io/v1alpha2/namespaces/shop/")
    v1 = orjson.loads((GOLDEN / "edges.json").read_bytes())["items"][0]
    assert item["metrics"] == v1["metrics"] and item["resource"] == v1["resource"]
