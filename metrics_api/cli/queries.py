"""`python -m metrics_api queries check|render`: offline tooling for query packs.

`check` tells, for one pack and one Prometheus (or VictoriaMetrics, Thanos, Mimir), which metrics and
labels the pack reads are present, runs every query the pack can plan once, and exits non-zero when
anything is missing or fails; then it states the pack's failure definition and what the series say
about the mesh's prerequisites (cli/diagnose.py: warnings, which do not change the exit code). It reaches the store exactly as `serve` does (the same store flags and
client: path prefix, headers, bearer token, basic auth, CA, client certificate). `render` prints the
PromQL one request path would run.
"""
from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import yaml

from metrics_api.apis.smi import API_PREFIX
from metrics_api.apis.smi.routing import parse
from metrics_api.app import catalog_for
from metrics_api.cli.config import STORE_FLAGS, ConfigError, Settings, add_flags, settings_from
from metrics_api.cli.diagnose import Probe, diagnose
from metrics_api.core import promql
from metrics_api.core.errors import ApiError
from metrics_api.core.model import Target
from metrics_api.core.quantity import parse_go_duration
from metrics_api.packs.catalog import Catalog
from metrics_api.packs.detect import LOOKBACK, DetectionError, Detector
from metrics_api.packs.model import Pack, PackError
from metrics_api.packs.rules import parse_record_name, prometheus_rule, record_selector, rule_groups, sources
from metrics_api.pipeline.plan import PlannedQuery, plan
from metrics_api.store.prometheus import PrometheusClient, matched

METRIC = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{")
NAME_MATCHER = re.compile(r'\{\s*__name__=~"([^"]+)"')   # a family read under several names (Kuma's _total)
CHECK_WINDOW = 300.0


def add_commands(commands: argparse._SubParsersAction) -> None:
    queries = commands.add_parser("queries", help="check a query pack against a Prometheus, or print its PromQL")
    actions = queries.add_subparsers(dest="queries_command", required=True)
    check = actions.add_parser("check", help="which metrics/labels a pack needs are present; run each query once")
    add_flags(check, STORE_FLAGS)
    check.add_argument("--mesh", default="auto", help="pack name, YAML file, or auto (default)")
    render = actions.add_parser("render", help="print the PromQL a request path would run")
    render.add_argument("path", help=f"an API path, e.g. {API_PREFIX}/namespaces/shop/deployments/web/edges?t=1m")
    render.add_argument("--mesh", required=True, help="pack name or YAML file")
    rules = actions.add_parser("rules", help="write recording rules that pre-aggregate the pack's views "
                                             "(a Prometheus rules file and a PrometheusRule object)")
    rules.add_argument("--mesh", required=True, help="pack name or YAML file")
    rules.add_argument("--windows", default="30s,1m,5m", help="comma-separated Go durations (default 30s,1m,5m)")
    rules.add_argument("--namespace", default="smi-metrics", help="namespace of the PrometheusRule object")
    rules.add_argument("--out-dir", default=".", help="where <mesh>-rules.yaml and <mesh>-prometheusrule.yaml go")
    for command in (check, render, rules):
        command.add_argument("--query-packs", help="user packs: a YAML file or a directory (as for serve)")


def run(args: argparse.Namespace) -> int:
    try:
        if args.queries_command in ("render", "rules"):
            catalog = Catalog()
            if args.query_packs:
                catalog.add_overrides(args.query_packs)
            pack = catalog.load(args.mesh)
            return _render(pack, args.path) if args.queries_command == "render" else _rules(pack, args)
        settings = settings_from(args)
        return asyncio.run(_check(settings, catalog_for(settings)))
    except (PackError, DetectionError, ConfigError, ValueError) as error:
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


# -- rules ---------------------------------------------------------------------------------------


def _rules(pack: Pack, args: argparse.Namespace) -> int:
    windows = tuple(parse_go_duration(text.strip()) for text in args.windows.split(",") if text.strip())
    if not windows or not all(1 <= window <= 86400 for window in windows):
        raise ValueError(f"--windows {args.windows!r}: Go durations between 1s and 24h, e.g. 30s,1m,5m")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plain, operator = out / f"{pack.name}-rules.yaml", out / f"{pack.name}-prometheusrule.yaml"
    plain.write_text(yaml.safe_dump(rule_groups(pack, windows), sort_keys=False, width=1 << 16))
    operator.write_text(yaml.safe_dump(prometheus_rule(pack, windows, args.namespace), sort_keys=False,
                                       width=1 << 16))
    print(f"wrote {plain} and {operator}")
    return 0


# -- check -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    metric: str                 # a metric name, or a regular expression over names (`__name__=~`)
    labels: tuple[str, ...]     # every view of the metric's source reads them: absence is a problem
    optional: tuple[str, ...]   # only some kinds' views read them (Linkerd's `statefulset`, ...) or only
                                # some outcomes carry them (`grpc_status`): absence is not a problem
    pattern: bool = False       # `metric` is a regular expression

    def selector(self) -> str:
        return "{" + (promql.matches if self.pattern else promql.equals)("__name__", self.metric) + "}"


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
    found: dict[tuple[str, bool], tuple[set[str], set[str]]] = {}
    status, *outcome_labels = pack.classify.labels   # the first status label is on every counted series
    for source in sources(pack):
        views = views_by_source.get(source.name, [])
        every = set.intersection(*views) if views else set()
        some = set().union(*views) - every
        for metric in _metrics(source.counts):
            required, optional = found.setdefault(metric, (set(), set()))
            required.update(every | {status})
            optional.update(some | set(outcome_labels))
        for metric in _metrics(source.buckets):   # buckets, and maybe a counter (Istio's `unless`)
            required, optional = found.setdefault(metric, (set(), set()))
            required.update(every | ({"le"} if metric[0].endswith("_bucket") else set()))
            optional.update(some)
    return [Need(metric, tuple(sorted(required)), tuple(sorted(optional - required)), pattern)
            for (metric, pattern), (required, optional) in sorted(found.items())]


def _metrics(template: str) -> list[tuple[str, bool]]:
    """(name, is a regular expression) of every metric a template reads."""
    return [(m, False) for m in METRIC.findall(template)] + [(m, True) for m in NAME_MATCHER.findall(template)]


def checks(pack: Pack) -> list[PlannedQuery]:
    """Every distinct query the pack plans: each kind's list and its edges, across namespaces."""
    queries: dict[str, PlannedQuery] = {}
    for plural, support in pack.kinds.items():
        for edges in (False, True) if support.edges else (False,):
            for query in plan(pack, Target(plural, (support.kind,), None, None, edges, CHECK_WINDOW)):
                queries.setdefault(query.promql, query)
    return list(queries.values())


async def _check(settings: Settings, catalog: Catalog) -> int:
    client = PrometheusClient.for_settings(settings)
    await client.start()
    try:
        return await _check_with(client, settings, catalog)
    finally:
        await client.close()


async def _check_with(client: PrometheusClient, settings: Settings, catalog: Catalog) -> int:
    timeout = settings.request_timeout
    if settings.mesh == "auto":
        pack = await Detector(catalog, client).detect(timeout)
    else:
        pack = catalog.load(settings.mesh)
    now = time.time()
    problems = 0
    rows = [("METRIC", "LABEL", "STATUS")]
    for need in needs(pack):
        present = set(await client.label_names(need.selector(), now - LOOKBACK, now, timeout))
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
            rows.append(("", label, "ok" if label in present else "absent (no series of the kinds or outcomes with it)"))
    print(f"pack {pack.name} ({pack.path}) against {settings.prometheus_url}\n")
    _table(rows)
    rows = [("KIND", "VIEW", "MEASURE", "SERIES", "SECONDS", "STATUS")]
    for query in checks(pack):
        started = time.monotonic()
        try:
            result = await client.query(query.promql, now, timeout)
            status, count = "ok", str(len(result))
        except ApiError as error:   # any failure of this query is a finding, not a crash of the tool
            status, count = f"ERROR {error.code}: {error.message[:200]}", "-"
            problems += 1
        rows.append((query.kind.plural, query.direction or "resource", query.measure, count,
                     f"{time.monotonic() - started:.3f}", status))
    print()
    _table(rows)
    print(f"\nfailures: {pack.classify.definition or 'rows matching classify.failure'}")
    findings = await diagnose(pack.name, Probe(client, now, LOOKBACK, timeout))
    if findings:
        print()
        _table([("PREREQUISITE", "FINDING")] + [(f.level.value, f.text) for f in findings])
    print()
    _table(await _recordings(client, pack, now, timeout))
    print(f"\n{problems} problem(s)")
    return 1 if problems else 0


async def _recordings(client: PrometheusClient, pack: Pack, now: float, timeout: float) -> list[tuple[str, ...]]:
    """Which recording rules of the pack (`queries rules`) the store holds: informational, never a problem."""
    names = await client.label_values("__name__", record_selector(pack), now - LOOKBACK, now, timeout)
    found = sorted({(r.source, r.window, r.measure.value) for r in (parse_record_name(pack, n) for n in names) if r})
    rows = [("RECORDED SOURCE", "WINDOW", "MEASURE")]
    rows += [(source, promql.duration(window), measure) for source, window, measure in found]
    if not found:
        rows.append(("(none: requests read raw series; see `queries rules`)", "", ""))
    return rows


def _table(rows: Sequence[Iterable[str]]) -> None:
    rows = [tuple(row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
