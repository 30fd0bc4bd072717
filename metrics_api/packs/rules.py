"""Recording rules that pre-aggregate a pack's sources, and the names of the series they record.

For every source and window, two rules: the response counts per second and the latency buckets per
second, each summed by every label any view of that source reads (identity, peer and kind labels, the
status labels, `le`). Those are the series a request selects and groups, minus everything else a proxy
adds (pod, instance, …), so a request reads a few thousand recorded series instead of every proxy's.
The planner uses a recorded pair when the store holds it for the request's window (pipeline/
recordings.py), and the raw series otherwise. Record names follow Prometheus' `level:metric:operations`
convention: `smi:<mesh>_<source>_<counts|buckets>:rate<window>`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from metrics_api.core import promql
from metrics_api.core.model import Measure
from metrics_api.core.quantity import parse_go_duration
from metrics_api.packs.model import Pack, Source, fill

RECORDED = (Measure.COUNTS, Measure.BUCKETS)
DEFAULT_WINDOWS = (30.0, 60.0, 300.0)
_NOT_IN_A_NAME = re.compile(r"[^a-zA-Z0-9_]")
_RECORD = re.compile(r"smi:(?P<prefix>[a-zA-Z0-9_]+)_(?P<measure>counts|buckets):rate(?P<window>[0-9]+m?s)")


@dataclass(frozen=True)
class Recording:
    """One pre-aggregated series set: a source's counts or buckets over a window."""
    source: str
    measure: Measure
    window: float   # seconds


def record_name(pack: Pack, source: str, measure: Measure, window: float) -> str:
    return f"smi:{_prefix(pack, source)}_{measure.value}:rate{promql.duration(window)}"


def parse_record_name(pack: Pack, name: str) -> Recording | None:
    """The recording a series name stands for, if it is one of this pack's."""
    found = _RECORD.fullmatch(name)
    if found is None:
        return None
    for source in sources(pack):
        if _prefix(pack, source.name) == found["prefix"]:
            return Recording(source.name, Measure(found["measure"]), parse_go_duration(found["window"]))
    return None


def record_selector(pack: Pack) -> str:
    """A series selector matching every series this pack's rules record."""
    return "{" + promql.matches("__name__", f"smi:{promql.regex_escape(_prefix(pack, ''))}.*") + "}"


def sources(pack: Pack) -> list[Source]:
    seen: dict[str, Source] = {}
    for support in pack.kinds.values():
        for view in (support.resource, *support.edges.values()):
            seen.setdefault(view.source.name, view.source)
    return list(seen.values())


def grouping_labels(pack: Pack, source: str) -> list[str]:
    """Every label a view of `source` selects or groups by: what a recorded series must keep."""
    labels: dict[str, None] = {}
    for support in pack.kinds.values():
        for view in (support.resource, *support.edges.values()):
            if view.source.name != source:
                continue
            for label in view.labels():
                labels.setdefault(label)
            for kind_label in (view.self.kind_label, view.peer.kind_label if view.peer else None):
                if kind_label:
                    labels.setdefault(kind_label)
    return list(labels)


def rule_groups(pack: Pack, windows: tuple[float, ...] = DEFAULT_WINDOWS) -> dict:
    """A Prometheus rules document (`groups:`) with the pack's recording rules."""
    rules = []
    for source in sources(pack):
        by = grouping_labels(pack, source.name)
        for window in windows:
            duration = promql.duration(window)
            rules.append({"record": record_name(pack, source.name, Measure.COUNTS, window),
                          "expr": fill(source.counts, "", ", ".join([*by, *pack.classify.labels]), duration, "1")})
            rules.append({"record": record_name(pack, source.name, Measure.BUCKETS, window),
                          "expr": fill(source.buckets, "", ", ".join(by), duration)})
    return {"groups": [{"name": f"smi-metrics-api-{pack.name}", "rules": rules}]}


def prometheus_rule(pack: Pack, windows: tuple[float, ...] = DEFAULT_WINDOWS, namespace: str = "smi-metrics") -> dict:
    """The same rules as a Prometheus Operator PrometheusRule object."""
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": f"smi-metrics-api-{pack.name}", "namespace": namespace,
                         "labels": {"app.kubernetes.io/name": "smi-metrics-api"}},
            "spec": rule_groups(pack, windows)}


def _prefix(pack: Pack, source: str) -> str:
    return _NOT_IN_A_NAME.sub("_", f"{pack.name}_{source}" if source else f"{pack.name}_")
