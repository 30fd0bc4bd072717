"""`python -m metrics_api queries check|render`: offline tooling for query packs.

`check` tells, for one pack and one Prometheus (or VictoriaMetrics, Thanos, Mimir), which metrics and
labels the pack reads are present, runs every query the pack can plan once, and exits non-zero when
anything is missing or fails. `render` prints the PromQL one request path would run. Both use
prometheus-api-client (synchronous, fine for a command line), never the server's request path.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from . import API_PREFIX, packs, promql
from .detect import LOOKBACK, DetectionError, candidates, choose
from .errors import ApiError
from .packs import Pack, Source
from .planner import PlannedQuery, plan
from .prometheus import matched
from .routing import parse
from .target import Target

if TYPE_CHECKING:
    from prometheus_api_client import PrometheusConnect

METRIC = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{")
CHECK_WINDOW = 300.0


def add_commands(commands: argparse._SubParsersAction) -> None:
    queries = commands.add_parser("queries", help="check a query pack against a Prometheus, or print its PromQL")
    actions = queries.add_subparsers(dest="queries_command", required=True)
    check = actions.add_parser("check", help="which metrics/labels a pack needs are present; run each query once")
    check.add_argument("--prometheus-url", required=True)
    check.add_argument("--mesh", default="auto", help="pack name, YAML file, or auto (default)")
    check.add_argument("--prometheus-header", action="append", default=[], metavar="'NAME: VALUE'",
                       help="extra request header (repeatable), e.g. 'X-Scope-OrgID: team-a'")
    render = actions.add_parser("render", help="print the PromQL a request path would run")
    render.add_argument("path", help=f"an API path, e.g. {API_PREFIX}/namespaces/shop/deployments/web/edges?t=1m")
    render.add_argument("--mesh", required=True, help="pack name or YAML file")
    for command in (check, render):
        command.add_argument("--query-packs", help="user packs: a YAML file or a directory (as for serve)")


def run(args: argparse.Namespace) -> int:
    try:
        if args.query_packs:
            packs.use_overrides(args.query_packs)
        if args.queries_command == "render":
            return _render(packs.load(args.mesh), args.path)
        return _check(args)
    except (packs.PackError, DetectionError, ValueError) as error:
        print(f"smi-metrics-api queries: {error}", file=sys.stderr)
        return 2


# -- render ----------------------------------------------------------------------------------------


def _render(pack: Pack, path: str) -> int:
    parts = urlsplit(path)
    if not parts.path.startswith(API_PREFIX + "/"):
        raise ValueError(f"the path must start with {API_PREFIX}/")
    try:
        target = parse(pack, parts.path.rstrip("/"), dict(parse_qsl(parts.query))).target
    except ApiError as error:
        print(f"smi-metrics-api queries: {error.code} {error.message}", file=sys.stderr)
        return 2
    for query in plan(pack, target):
        print(f"# {query.kind.plural} {query.direction or 'resource'} {query.measure}")
        print(query.promql)
    return 0


# -- check -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    metric: str
    labels: tuple[str, ...]     # every view of the metric's source reads them: absence is a problem
    optional: tuple[str, ...]   # only some kinds' views read them (Linkerd's `statefulset`, ...): absence
                                # means no series of those kinds, which is not a problem


def needs(pack: Pack) -> list[Need]:
    """Every metric the pack's templates read, with the labels its views group or select by."""
    views_by_source: dict[str, list[set[str]]] = {}
    for support in pack.kinds.values():
        for view in (support.resource, *support.edges.values()):
            labels = set()
            for label in view.labels() + ([view.self.kind_label] if view.self.kind_label else []):
                derived = pack.derived.get(label)
                labels.add(derived.source if derived else label)
            views_by_source.setdefault(view.source.name, []).append(labels)
    found: dict[str, tuple[set[str], set[str]]] = {}
    for source in _sources(pack):
        views = views_by_source.get(source.name, [])
        every = set.intersection(*views) if views else set()
        some = set().union(*views) - every
        for templates, extra in ((source.counts, pack.status_label), (source.latency, "le")):
            for metric in METRIC.findall(templates):
                required, optional = found.setdefault(metric, (set(), set()))
                required.update(every | {extra})
                optional.update(some)
    return [Need(metric, tuple(sorted(required)), tuple(sorted(optional - required)))
            for metric, (required, optional) in sorted(found.items())]


def _sources(pack: Pack) -> list[Source]:
    seen: dict[str, Source] = {}
    for support in pack.kinds.values():
        for view in (support.resource, *support.edges.values()):
            seen.setdefault(view.source.name, view.source)
    return list(seen.values())


def checks(pack: Pack) -> list[PlannedQuery]:
    """Every distinct query the pack plans: each kind's list and its edges, across namespaces."""
    queries: dict[str, PlannedQuery] = {}
    for plural, support in pack.kinds.items():
        for edges in (False, True) if support.edges else (False,):
            for query in plan(pack, Target(plural, (support.kind,), None, None, edges, CHECK_WINDOW)):
                queries.setdefault(query.promql, query)
    return list(queries.values())


def _connect(args: argparse.Namespace) -> PrometheusConnect:
    from prometheus_api_client import PrometheusConnect   # an optional dependency (extra `tools`)

    headers = {}
    for header in args.prometheus_header:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"--prometheus-header {header!r}: expected 'Name: value'")
        headers[name.strip()] = value.strip()
    return PrometheusConnect(args.prometheus_url, headers=headers or None, disable_ssl=False)


def _detect(prom: PrometheusConnect, url: str) -> Pack:
    looked_at = candidates()
    now = time.time()
    present = [p for p in looked_at
               if matched(prom.get_label_names(params={"match[]": p.detect, "start": now - LOOKBACK, "end": now}))]
    return choose(present, looked_at, url)


def _check(args: argparse.Namespace) -> int:
    prom = _connect(args)
    pack = _detect(prom, args.prometheus_url) if args.mesh == "auto" else packs.load(args.mesh)
    now = time.time()
    problems = 0
    rows = [("METRIC", "LABEL", "STATUS")]
    for need in needs(pack):
        present = set(prom.get_label_names(params={"match[]": "{" + promql.equals("__name__", need.metric) + "}",
                                                   "start": now - LOOKBACK, "end": now}))
        if not matched(present):
            rows.append((need.metric, "", "MISSING"))
            problems += 1
            continue
        rows.append((need.metric, "", "ok"))
        for label in need.labels:
            ok = label in present
            rows.append(("", label, "ok" if ok else "MISSING"))
            problems += not ok
        for label in need.optional:
            rows.append(("", label, "ok" if label in present else "absent (no series of the kinds that read it)"))
    print(f"pack {pack.name} ({pack.path}) against {args.prometheus_url}\n")
    _table(rows)
    rows = [("KIND", "VIEW", "MEASURE", "SERIES", "SECONDS", "STATUS")]
    for query in checks(pack):
        started = time.monotonic()
        try:
            result = prom.custom_query(query.promql, params={"time": now})
            status, count = "ok", str(len(result))
        except Exception as error:   # any failure of this query is a finding, not a crash of the tool
            status, count = f"ERROR {type(error).__name__}: {str(error)[:200]}", "-"
            problems += 1
        rows.append((query.kind.plural, query.direction or "resource", query.measure, count,
                     f"{time.monotonic() - started:.3f}", status))
    print()
    _table(rows)
    print(f"\n{problems} problem(s)")
    return 1 if problems else 0


def _table(rows: Sequence[Iterable[str]]) -> None:
    rows = [tuple(row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
