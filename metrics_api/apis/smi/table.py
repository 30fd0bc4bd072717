"""meta.k8s.io Table output (what `kubectl get` prints), and the choice between a Table and plain JSON.

Cells are pre-formatted strings (as kube-apiserver's own printers do for AGE), so every kubectl
version prints the same thing.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson

from metrics_api.apis.api import Renderer
from metrics_api.apis.smi.render import object_metadata, render_json, traffic_metrics
from metrics_api.core.cells import NO_DATA, format_latency, format_percent, format_rate
from metrics_api.core.errors import ApiError, bad_request
from metrics_api.core.kinds import BY_NAME, TRAFFICMETRICS
from metrics_api.core.model import Answer, Ref, Row
from metrics_api.core.quantity import clamp_int64, format_go_duration, rfc3339
from metrics_api.http.media import parse_accept

META_GROUP = "meta.k8s.io"
TABLE_VERSIONS = ("v1", "v1beta1")
INCLUDE_OBJECT = ("None", "Metadata", "Object")


@dataclass(frozen=True)
class Column:
    name: str                         # kubectl prints it upper-cased
    type: str                         # string | integer
    description: str
    cell: Callable[[Row, float], Any]  # (row, window seconds) → cell value
    priority: int = 0                 # > 0: only with `-o wide`
    format: str = ""


def renderer_for(accept: str | None, query: Mapping[str, str]) -> Renderer:
    """JSON or a Table, by the first Accept range we can serve; 406 when there is none, 400 for a bad
    includeObject. Runs before any query so a bad request costs nothing."""
    for media in parse_accept(accept):
        version = media.names("Table", META_GROUP, TABLE_VERSIONS)
        if version is not None:
            return partial(render_table, version=version, include=include_object(query))
        if media.is_json and "as" not in media.params:
            return render_json
    raise ApiError(406, "only the following media types are accepted: application/json, "
                        "application/json;as=Table;v=v1;g=meta.k8s.io")


def include_object(query: Mapping[str, str]) -> str:
    value = query.get("includeObject") or "Metadata"
    if value not in INCLUDE_OBJECT:
        raise bad_request(f"unrecognized includeObject value: {value!r} (use None, Metadata or Object)")
    return value


def render_table(answer: Answer, version: str, include: str) -> bytes:
    columns = columns_for(answer)
    timestamp, window_text = rfc3339(answer.at), format_go_duration(answer.target.window)
    api_version = f"{META_GROUP}/{version}"
    rows = []
    for row in answer.rows:
        entry: dict[str, Any] = {"cells": [column.cell(row, answer.target.window) for column in columns]}
        if include == "Metadata":
            entry["object"] = {"kind": "PartialObjectMetadata", "apiVersion": api_version,
                               "metadata": object_metadata(row, timestamp)}
        elif include == "Object":
            entry["object"] = traffic_metrics(row, answer.target.window, timestamp, window_text)
        rows.append(entry)
    definitions = [{"name": c.name, "type": c.type, "format": c.format, "description": c.description,
                    "priority": c.priority} for c in columns]
    return orjson.dumps({"kind": "Table", "apiVersion": api_version, "metadata": {},
                         "columnDefinitions": definitions, "rows": rows})


def columns_for(answer: Answer) -> list[Column]:
    """NAME first; KIND for the every-workload `trafficmetrics`; DIRECTION and PEER for edge lists."""
    columns = [NAME]
    if answer.target.plural == TRAFFICMETRICS:
        columns.append(KIND)
    if answer.target.edges:
        columns += EDGE_COLUMNS
    return columns + TRAFFIC_COLUMNS


# -- cells -----------------------------------------------------------------------------------------------

def _total(row: Row) -> float:
    return row.success + row.failure


def _latency(key: str) -> Callable[[Row, float], str]:
    return lambda row, window: format_latency(row.latency_ms.get(key) if _total(row) > 0 else None)


def _peer(ref: Ref | None) -> str:
    return f"{BY_NAME[ref.kind].singular}/{ref.name}" if ref else NO_DATA


NAME = Column("Name", "string", "Name of the measured resource.", lambda row, w: row.resource.name, format="name")
KIND = Column("Kind", "string", "Kubernetes kind of the measured workload.", lambda row, w: row.resource.kind)
EDGE_COLUMNS = [
    Column("Direction", "string", "to: traffic from the resource to the peer; from: from the peer into the resource.",
           lambda row, w: row.direction),
    Column("Peer", "string", "The other end of the edge, as kind/name.", lambda row, w: _peer(row.peer)),
    Column("Peer_Namespace", "string", "Namespace of the peer.",
           lambda row, w: row.peer.namespace or NO_DATA if row.peer else NO_DATA),
]
TRAFFIC_COLUMNS = [
    Column("Success", "string", "Share of successful requests in the window.",
           lambda row, w: format_percent(row.success, _total(row))),
    Column("RPS", "string", "Requests per second over the window.", lambda row, w: format_rate(_total(row) / w)),
    Column("Latency_P50", "string", "Median response latency.", _latency("p50")),
    Column("Latency_P90", "string", "90th percentile response latency.", _latency("p90")),
    Column("Latency_P99", "string", "99th percentile response latency.", _latency("p99")),
    Column("Window", "string", "The window the metrics cover.", lambda row, w: format_go_duration(w)),
    Column("Success_Count", "integer", "Successful requests in the window.",
           lambda row, w: clamp_int64(round(row.success)), priority=1),
    Column("Failure_Count", "integer", "Failed requests in the window.",
           lambda row, w: clamp_int64(round(row.failure)), priority=1),
]
