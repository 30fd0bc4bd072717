"""TrafficMetrics items as the client reads them, and their cells in the server's formats."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from metrics_api.core.cells import format_latency, format_percent, format_rate
from metrics_api.core.quantity import parse_go_duration, parse_quantity


class Direction(str, Enum):
    TO = "to"       # from the resource to the peer
    FROM = "from"   # from the peer into the resource


@dataclass(frozen=True, order=True)
class Resource:
    namespace: str   # "" for the cluster-scoped Namespace kind
    name: str
    kind: str

    @property
    def id(self) -> str:
        """Unique in a graph: a Deployment and a Service may share a name."""
        return f"{self.kind}/{self.namespace}/{self.name}"

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass(frozen=True)
class Traffic:
    success: float          # requests in the window
    failure: float
    window: float           # seconds
    p50: float | None       # ms; None without requests
    p90: float | None
    p99: float | None

    @property
    def total(self) -> float:
        return self.success + self.failure

    @property
    def rps(self) -> float:
        return self.total / self.window

    @property
    def success_rate(self) -> float | None:
        return self.success / self.total if self.total > 0 else None

    def cells(self) -> dict[str, str]:
        """SUCCESS, RPS and latencies exactly as the server's Table prints them."""
        return {"success": format_percent(self.success, self.total), "rps": format_rate(self.rps),
                "p50": format_latency(self.p50), "p90": format_latency(self.p90), "p99": format_latency(self.p99)}

    def numbers(self) -> dict[str, Any]:
        return {"success_rate": self.success_rate, "rps": self.rps, "p50": self.p50, "p90": self.p90,
                "p99": self.p99, "success_count": round(self.success), "failure_count": round(self.failure)}


@dataclass(frozen=True)
class Sample:
    """One item: a resource's own numbers (`peer` None) or one of its edges."""
    resource: Resource
    direction: Direction
    peer: Resource | None
    traffic: Traffic


def parse_item(item: dict[str, Any]) -> Sample:
    metrics = {metric["name"]: parse_quantity(metric["value"]) for metric in item["metrics"]}
    success, failure = metrics["success_count"], metrics["failure_count"]
    idle = success + failure <= 0

    def latency(name: str) -> float | None:
        return None if idle else metrics[f"{name}_response_latency"]

    edge = item["edge"]
    peer = _resource(edge["resource"]) if edge.get("resource") else None
    traffic = Traffic(success, failure, parse_go_duration(item["window"]), latency("p50"), latency("p90"),
                      latency("p99"))
    return Sample(_resource(item["resource"]), Direction(edge["direction"]), peer, traffic)


def _resource(reference: dict[str, Any]) -> Resource:
    return Resource(reference.get("namespace") or "", reference["name"], reference["kind"])
