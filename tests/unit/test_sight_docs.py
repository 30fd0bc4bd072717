"""docs/meshes.md states what the conformance suite asserts: its two tables (--local and cluster mode)
serve the same kinds and edge directions as SIGHT and CLUSTER_SIGHT (tests/support/expectations.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.expectations import MODES, WORKLOADS, Sight

DOC = Path(__file__).resolve().parents[2] / "docs" / "meshes.md"
COLUMNS = {"Linkerd": "linkerd", "Istio": "istio", "Consul": "consul", "OSM": "osm", "Kuma": "kuma",
           "Cilium/Hubble": "cilium"}
ROWS = {"Deployment, StatefulSet, DaemonSet, Job": WORKLOADS, "ReplicaSet (bare)": ("ReplicaSet",),
        "Pod": ("Pod",), "Service": ("Service",), "Namespace": ("Namespace",)}
HEADINGS = {"local": "**`--local` mode**", "cluster": "**Cluster mode**"}
DIRECTIONS = re.compile(r"(to|from)(, (to|from))*")


def table(heading: str) -> dict[str, dict[str, str]]:
    """The table after `heading`: row label → column → cell."""
    lines = DOC.read_text().split(heading, 1)[1].splitlines()
    lines = lines[next(i for i, line in enumerate(lines) if line.startswith("|")):]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    cells: dict[str, dict[str, str]] = {}
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        row = [c.strip() for c in line.strip("|").split("|")]
        cells[row[0]] = dict(zip(header[1:], row[1:]))
    return cells


def stated(sight: Sight, kind: str) -> str:
    """What the table must say for `kind`: its edge directions, `—` when not served."""
    if kind not in sight.kinds:
        return "—"
    return ", ".join(sight.kinds[kind].edges) or "resource only"


@pytest.mark.parametrize("mode", MODES)
def test_the_tables_of_docs_meshes_md_say_what_the_suite_asserts(mode):
    cells = table(HEADINGS[mode])
    for label, kinds in ROWS.items():
        for column, mesh in COLUMNS.items():
            cell = cells[label][column]
            match = DIRECTIONS.match(cell)
            written = match.group(0) if match else cell.split(" ")[0]
            for kind in kinds:
                assert written == stated(MODES[mode][mesh], kind), f"{mode} {label} {column}: {cell!r}"
    workloads = cells[next(label for label in cells if label.startswith("`trafficmetrics`"))]
    for column, mesh in COLUMNS.items():
        served = any(k in MODES[mode][mesh].kinds for k in WORKLOADS)
        assert workloads[column] == ("yes" if served else "—"), f"{mode} trafficmetrics {column}"
