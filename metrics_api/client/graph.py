"""The service graph of a namespace (or the cluster): workloads as nodes, the traffic between them as directed
links, and its renderings (text for a terminal, Graphviz dot, Mermaid, JSON for scripts and the dashboard)."""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from metrics_api.client.samples import Sample, Traffic, label, node_id
from metrics_api.client.tables import TRAFFIC_HEADER, render, traffic_cells
from metrics_api.core.kinds import TRAFFICMETRICS
from metrics_api.core.model import Direction, Ref

if TYPE_CHECKING:
    from metrics_api.client.api import Scope, TrafficApi

# Success-rate bands shared by dot, Mermaid and the dashboard's colours (lower bound → colour name).
BANDS: tuple[tuple[float, str], ...] = ((0.999, "good"), (0.99, "fair"), (0.95, "poor"), (0.0, "bad"))
COLOURS = {"good": "#2e9e5b", "fair": "#9bbb2f", "poor": "#e0912f", "bad": "#d64541", "idle": "#9aa3ad"}


class Format(str, Enum):
    TEXT = "text"
    DOT = "dot"
    MERMAID = "mermaid"
    JSON = "json"


@dataclass(frozen=True)
class Node:
    resource: Ref
    traffic: Traffic | None   # None: a peer outside the scope, not measured here


@dataclass(frozen=True)
class Link:
    source: Ref
    target: Ref
    traffic: Traffic


@dataclass(frozen=True)
class Graph:
    window: str
    scope: str              # a namespace, or "" for every namespace
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]


async def load(api: TrafficApi, scope: Scope, window: str) -> Graph:
    """Every workload of the scope and the edges of each (one list request, then one per workload)."""
    workloads = await api.list(TRAFFICMETRICS, scope, window)
    return build(window, scope.namespace or "", workloads, await api.edges_of_all(workloads, window))


def build(window: str, scope: str, resources: Sequence[Sample], edges: Sequence[Sample]) -> Graph:
    """Links from the callers' `to` edges; a `from` edge only adds a link whose caller is outside the scope
    (its own `to` edge was not fetched). A→B and B→A stay two links."""
    links: dict[tuple[Ref, Ref], Link] = {}
    for edge in sorted(edges, key=lambda e: e.direction is not Direction.TO):
        if edge.peer is None:
            continue
        source, target = (edge.resource, edge.peer) if edge.direction is Direction.TO else (edge.peer, edge.resource)
        links.setdefault((source, target), Link(source, target, edge.traffic))
    measured = {sample.resource: sample.traffic for sample in resources}
    ends = {end for link in links.values() for end in (link.source, link.target)}
    nodes = tuple(Node(r, measured.get(r)) for r in sorted(measured.keys() | ends))
    return Graph(window, scope, nodes, tuple(sorted(links.values(), key=lambda l: (l.source, l.target))))


def band(traffic: Traffic | None) -> str:
    rate = traffic.success_rate if traffic else None
    if rate is None:
        return "idle"
    return next(name for bound, name in BANDS if rate >= bound)


# -- renderings ------------------------------------------------------------------------------------------

def to_json(graph: Graph) -> dict[str, Any]:
    def numbers(traffic: Traffic | None) -> dict[str, Any]:
        if traffic is None:
            return {"measured": False}
        return {"measured": True, "band": band(traffic), "cells": traffic.cells(), **traffic.numbers()}

    return {
        "window": graph.window, "namespace": graph.scope or None,
        "nodes": [{"id": node_id(n.resource), "kind": n.resource.kind, "namespace": n.resource.namespace or None,
                   "name": n.resource.name, **numbers(n.traffic)} for n in graph.nodes],
        "links": [{"source": node_id(l.source), "target": node_id(l.target), **numbers(l.traffic)} for l in graph.links],
    }


def to_text(graph: Graph) -> str:
    """Each node with its numbers, its callees under it (`──▶`) and its callers (`◀──`), aligned."""
    table: list[list[str]] = [["NODE", "KIND", *TRAFFIC_HEADER]]
    outgoing = _group(graph.links, lambda l: l.source)
    incoming = _group(graph.links, lambda l: l.target)
    measured = {node.resource for node in graph.nodes if node.traffic is not None}
    for node in graph.nodes:
        if node.traffic is None:
            continue   # outside the scope: shown only as a peer
        table.append([label(node.resource), node.resource.kind, *traffic_cells(node.traffic)])
        for link in outgoing.get(node.resource, ()):
            table.append([f"  ──▶ {label(link.target)}", link.target.kind, *traffic_cells(link.traffic)])
        for link in incoming.get(node.resource, ()):
            if link.source not in measured:
                table.append([f"  ◀── {label(link.source)}", link.source.kind, *traffic_cells(link.traffic)])
    legend = "──▶ calls (the caller's numbers)   ◀── called by a workload outside the scope"
    return render(table, "No traffic found.") + ("\n\n" + legend if len(table) > 1 else "")


def to_dot(graph: Graph) -> str:
    lines = ['digraph traffic {', '  rankdir=LR;',
             '  node [shape=box, style="rounded,filled", fillcolor="#f7f9fb", fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    widest = max((l.traffic.rps for l in graph.links), default=0.0) or 1.0
    for node in graph.nodes:
        style = "" if node.traffic else ', style="rounded,dashed"'
        lines.append(f'  {_quote(node_id(node.resource))} [label={_quote(_node_label(node, chr(10)))}, '
                     f'color="{COLOURS[band(node.traffic)]}"{style}];')
    for link in graph.links:
        cells = link.traffic.cells()
        width = 1 + 5 * (link.traffic.rps / widest) ** 0.5
        lines.append(f'  {_quote(node_id(link.source))} -> {_quote(node_id(link.target))} '
                     f'[label={_quote(cells["success"] + " " + cells["rps"] + " rps")}, '
                     f'color="{COLOURS[band(link.traffic)]}", penwidth={width:.1f}];')
    return "\n".join([*lines, "}"])


def to_mermaid(graph: Graph) -> str:
    ids = {node.resource: f"n{index}" for index, node in enumerate(graph.nodes)}
    lines = ["graph LR"]
    for node in graph.nodes:
        lines.append(f'  {ids[node.resource]}["{_mermaid_text(_node_label(node, "<br/>"))}"]')
    for index, link in enumerate(graph.links):
        cells = link.traffic.cells()
        lines.append(f'  {ids[link.source]} -->|"{cells["success"]} {cells["rps"]} rps"| {ids[link.target]}')
        lines.append(f"  linkStyle {index} stroke:{COLOURS[band(link.traffic)]}")
    return "\n".join(lines)


RENDERERS: dict[Format, Callable[[Graph], str]] = {
    Format.TEXT: to_text, Format.DOT: to_dot, Format.MERMAID: to_mermaid,
    Format.JSON: lambda graph: json.dumps(to_json(graph), indent=2),
}


def _node_label(node: Node, newline: str) -> str:
    title = f"{label(node.resource)}{newline}{node.resource.kind}"
    if node.traffic is None:
        return title
    if node.traffic.total <= 0:
        return f"{title}{newline}no requests"
    cells = node.traffic.cells()
    return f"{title}{newline}{cells['success']} · {cells['rps']} rps · p99 {cells['p99']}"


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)   # a valid dot string: backslash escapes, quotes escaped


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def _group(links: Sequence[Link], key: Callable[[Link], Ref]) -> dict[Ref, list[Link]]:
    grouped: dict[Ref, list[Link]] = {}
    for link in links:
        grouped.setdefault(key(link), []).append(link)
    return grouped
