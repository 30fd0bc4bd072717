"""Render: rows → TrafficMetrics / TrafficMetricsList JSON, field order as in the SMI SDK."""
from __future__ import annotations

from typing import Any

import orjson

from metrics_api.apis.smi import API_PREFIX, GROUP_VERSION
from metrics_api.core.kinds import BY_NAME
from metrics_api.core.model import Answer, Ref, Row, Target
from metrics_api.core.quantity import format_go_duration, milli_quantity, rfc3339

LATENCY_METRICS = (("p99_response_latency", "p99"), ("p90_response_latency", "p90"), ("p50_response_latency", "p50"))


def self_link(ref: Ref) -> str:
    plural = BY_NAME[ref.kind].plural
    if ref.cluster_scoped:
        return f"{API_PREFIX}/{plural}/{ref.name}"
    return f"{API_PREFIX}/namespaces/{ref.namespace}/{plural}/{ref.name}"


def reference(ref: Ref) -> dict[str, str]:
    if ref.cluster_scoped:
        return {"kind": ref.kind, "name": ref.name}
    return {"kind": ref.kind, "namespace": ref.namespace, "name": ref.name}


def metrics(row: Row, window: float) -> list[dict[str, str]]:
    items = [{"name": name, "unit": "ms", "value": milli_quantity(row.latency_ms.get(key, 0.0))}
             for name, key in LATENCY_METRICS]
    success, failure = round(row.success), round(row.failure)
    total = row.success + row.failure
    items += [
        {"name": "success_count", "value": milli_quantity(success)},
        {"name": "failure_count", "value": milli_quantity(failure)},
        {"name": "request_rate", "unit": "rps", "value": milli_quantity(total / window)},
    ]
    # CONTRACT §3: 0/0 is not a success rate; a canary controller reading 0 would roll back an idle canary.
    if total > 0:
        items.append({"name": "success_rate", "value": milli_quantity(row.success / total)})
    return items


def object_metadata(row: Row, timestamp: str) -> dict[str, Any]:
    """An item's metadata (also a Table row's PartialObjectMetadata)."""
    link = self_link(row.resource)
    metadata: dict[str, Any] = {"name": row.resource.name}
    if not row.resource.cluster_scoped:
        metadata["namespace"] = row.resource.namespace
    metadata["selfLink"] = link + "/edges" if row.direction else link
    metadata["creationTimestamp"] = timestamp
    return metadata


def traffic_metrics(row: Row, window: float, timestamp: str, window_text: str) -> dict[str, Any]:
    return {
        "kind": "TrafficMetrics",
        "apiVersion": GROUP_VERSION,
        "metadata": object_metadata(row, timestamp),
        "timestamp": timestamp,
        "window": window_text,
        "resource": reference(row.resource),
        "edge": {"direction": row.direction or "from", "resource": reference(row.peer) if row.peer else None},
        "metrics": metrics(row, window),
    }


def render_object(row: Row, target: Target, at: float) -> bytes:
    return orjson.dumps(traffic_metrics(row, target.window, rfc3339(at), format_go_duration(target.window)))


def render_list(rows: list[Row], target: Target, at: float, path: str, root: Ref | None) -> bytes:
    """A TrafficMetricsList; `root` is the measured object for edge lists, None for plain lists."""
    timestamp, window_text = rfc3339(at), format_go_duration(target.window)
    if root is not None:
        list_resource = reference(root)
    else:
        list_resource = {}
        if len(target.kinds) == 1:
            list_resource["kind"] = target.kinds[0].name
        if target.namespace is not None and target.kinds[0].namespaced:
            list_resource["namespace"] = target.namespace
    return orjson.dumps({
        "kind": "TrafficMetricsList",
        "apiVersion": GROUP_VERSION,
        "metadata": {"selfLink": path},
        "resource": list_resource,
        "items": [traffic_metrics(row, target.window, timestamp, window_text) for row in rows],
    })


def render_json(answer: Answer) -> bytes:
    if answer.is_object:
        return render_object(answer.rows[0], answer.target, answer.at)
    return render_list(answer.rows, answer.target, answer.at, answer.path, answer.root)
