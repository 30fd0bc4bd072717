"""Fixed answers whose v1alpha1 renderings are pinned byte for byte in tests/unit/golden/ (written by the
renderer before v1alpha2 existed): v1alpha2 must leave v1alpha1 output exactly as it was."""
from __future__ import annotations

from metrics_api.core.kinds import BY_PLURAL, TRAFFICMETRICS, WORKLOAD_KINDS
from metrics_api.core.model import Answer, Direction, Measure, Ref, Row, Target

AT = 1_700_000_000.0
WEB = Ref("shop", "web", "Deployment")
DB = Ref("shop", "db", "StatefulSet")
LATENCY = {Measure.P50: 9.1666, Measure.P90: 50.0, Measure.P99: 390.0}


def _target(plural: str, namespace: str | None, name: str | None, edges: bool = False) -> Target:
    kinds = WORKLOAD_KINDS if plural == TRAFFICMETRICS else (BY_PLURAL[plural],)
    return Target(plural, kinds, namespace, name, edges, 30.0, None, "metrics.smi-spec.io")


def answers() -> dict[str, Answer]:
    """name → answer; the golden file is tests/unit/golden/<name>.json (or .table.json)."""
    web = Row(WEB, Direction.RESOURCE, None, 594.0, 6.0, dict(LATENCY))
    idle = Row(Ref("shop", "idle", "Deployment"), Direction.RESOURCE, None)
    to_db = Row(WEB, Direction.TO, DB, 240.0, 80.0, {Measure.P50: 15.0, Measure.P90: 35.0, Measure.P99: 600.0})
    from_peer = Row(WEB, Direction.FROM, Ref("pay", "gateway", "Deployment"), 12.0, 0.0, {Measure.P50: 3.0})
    namespace = Row(Ref("", "shop", "Namespace"), Direction.RESOURCE, None, 1000.0, 3.5, dict(LATENCY))
    prefix = "/apis/metrics.smi-spec.io/v1alpha1"
    return {
        "object": Answer(_target("deployments", "shop", "web"), [web], AT, f"{prefix}/namespaces/shop/deployments/web",
                         None),
        "list": Answer(_target("deployments", "shop", None), [idle, web], AT, f"{prefix}/namespaces/shop/deployments",
                       None),
        "edges": Answer(_target("deployments", "shop", "web", edges=True), [from_peer, to_db], AT,
                        f"{prefix}/namespaces/shop/deployments/web/edges", WEB),
        "namespaces": Answer(_target("namespaces", None, None), [namespace], AT, f"{prefix}/namespaces", None),
        "trafficmetrics": Answer(_target(TRAFFICMETRICS, "shop", None), [idle, web], AT,
                                 f"{prefix}/namespaces/shop/trafficmetrics", None),
    }
