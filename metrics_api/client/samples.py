"""TrafficMetrics items as the client reads them, and their cells in the server's formats."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from metrics_api.core.cells import format_latency, format_percent, format_rate
from metrics_api.core.model import Direction, Ref
from metrics_api.core.quantity import parse_go_duration, parse_quantity


def node_id(ref: Ref) -> str:
    """Unique in a graph (a Deployment and a Service may share a name)."""
    return f"{ref.kind}/{ref.namespace}/{ref.name}"


def label(ref: Ref) -> str:
    return f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name


@dataclass(frozen=True)
class Traffic:
    success: float          # requests in the window
    failure: float
    window: float           # seconds
    p50: float | None       # ms; None without requests
    p90: float | None
    p99: float | None
    # The server's own cells when it answered a Table: its counts are exact there, while the JSON rounds
    # them to whole requests, so only these are sure to match `kubectl get` to the last digit.
    shown: Mapping[str, str] | None = field(default=None, compare=False)

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
        """SUCCESS, RPS and latencies as the server's Table prints them (formatted here for a server that
        answers only JSON, such as the Go reference server)."""
        if self.shown is not None:
            return dict(self.shown)
        return {"success": format_percent(self.success, self.total), "rps": format_rate(self.rps),
                "p50": format_latency(self.p50), "p90": format_latency(self.p90), "p99": format_latency(self.p99)}

    def numbers(self) -> dict[str, Any]:
        return {"success_rate": self.success_rate, "rps": self.rps, "p50": self.p50, "p90": self.p90,
                "p99": self.p99, "success_count": round(self.success), "failure_count": round(self.failure)}


@dataclass(frozen=True)
class Sample:
    """One item: a resource's own numbers (`peer` None; the API says direction `from`) or one of its edges."""
    resource: Ref
    direction: Direction
    peer: Ref | None
    traffic: Traffic


# Table column → cell key (metrics_api/apis/smi/table.py names them).
TABLE_CELLS = {"Success": "success", "RPS": "rps", "Latency_P50": "p50", "Latency_P90": "p90", "Latency_P99": "p99"}


def parse_table(table: dict[str, Any]) -> list[Sample]:
    """A meta.k8s.io Table with includeObject=Object: the objects, with the server's cells."""
    names = [column["name"] for column in table["columnDefinitions"]]
    samples = []
    for row in table["rows"]:
        shown = {TABLE_CELLS[name]: str(cell) for name, cell in zip(names, row["cells"]) if name in TABLE_CELLS}
        samples.append(parse_item(row["object"], shown if len(shown) == len(TABLE_CELLS) else None))
    return samples


def parse_item(item: dict[str, Any], shown: Mapping[str, str] | None = None) -> Sample:
    metrics = {metric["name"]: parse_quantity(metric["value"]) for metric in item["metrics"]}
    success, failure = metrics["success_count"], metrics["failure_count"]
    idle = success + failure <= 0

    def latency(name: str) -> float | None:
        return None if idle else metrics[f"{name}_response_latency"]

    edge = item["edge"]
    peer = _resource(edge["resource"]) if edge.get("resource") else None
    traffic = Traffic(success, failure, parse_go_duration(item["window"]), latency("p50"), latency("p90"),
                      latency("p99"), shown)
    return Sample(_resource(item["resource"]), Direction(edge["direction"]), peer, traffic)


def _resource(reference: dict[str, Any]) -> Ref:
    return Ref(reference.get("namespace") or "", reference["name"], reference["kind"])
