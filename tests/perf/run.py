"""The benchmarks (issue 5), side by side with what this machine allows:

    python -m tests.perf [--runs 3] [--seconds 5] [--only cached,cold,coalescing,autoscaling,scale,recorded,victoria]

Needs /usr/bin/prometheus, promtool, victoria-metrics and `wrk` (Debian packages). Prints one table
per benchmark with ratios, and writes the figures as JSON to --json (default: perf-results.json)."""
from __future__ import annotations

import argparse
import asyncio
import json
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from meshsim.process import free_port
from meshsim.scenario import default_scenario
from meshsim.store import PrometheusServer
from meshsim.victoria import VictoriaMetricsServer
from metrics_api.apis.smi import API_PREFIX
from metrics_api.apis.smi.routing import parse
from metrics_api.cli.eventloop import EventLoop
from metrics_api.core.model import QUANTILES, Measure
from metrics_api.pipeline.plan import PlannedQuery, plan
from tests.support.catalog import packs
from tests.support.recording import backfill_rules, write_rules
from tests.support.serverproc import ServerProcess

from . import loadgen
from .stores import SCALE_STEP, SCALE_WINDOW, default_prometheus, prometheus_with, scale_scenario

REPO = Path(__file__).resolve().parents[2]

CACHED_PATH = f"{API_PREFIX}/namespaces/shop/deployments"
COLD_PATH = f"{API_PREFIX}/namespaces/shop/deployments/web"
# The same object through the custom metrics API (what HPA's Object metric asks), for the comparison.
CUSTOM_PATH = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/deployments.apps/web/request_rate"
SCALE_SIZES = (50, 500, 1000, 5000)
SCALE_LIST = f"{API_PREFIX}/namespaces/bench/pods?t={SCALE_WINDOW}"
SCALE_EDGES = f"{API_PREFIX}/namespaces/bench/deployments/client/edges?t={SCALE_WINDOW}"
_INSECURE = ssl.create_default_context()
_INSECURE.check_hostname = False
_INSECURE.verify_mode = ssl.CERT_NONE


def median_of(runs: int, measure: Callable[[], loadgen.Load]) -> dict[str, float]:
    return summary([measure() for _ in range(runs)])


def interleaved(runs: int, first: Callable[[], loadgen.Load],
                second: Callable[[], loadgen.Load]) -> tuple[dict[str, float], dict[str, float]]:
    pairs = [(first(), second()) for _ in range(runs)]
    return summary([a for a, _ in pairs]), summary([b for _, b in pairs])


def summary(loads: list[loadgen.Load]) -> dict[str, float]:
    return {"rate": statistics.median(x.rate for x in loads),
            "p50_ms": statistics.median(x.p50_ms for x in loads),
            "p99_ms": statistics.median(x.p99_ms for x in loads),
            "errors": sum(x.errors + x.non2xx for x in loads)}


def planned_queries(mesh: str, path: str) -> list[str]:
    return [q.promql for q in _plan(mesh, path)]


def legacy_queries(mesh: str, path: str) -> list[str]:
    """The query set before quantiles were computed in-process (issue 15): every bucket query was three
    `histogram_quantile(q, <the same buckets>)` queries, the baseline the targets are set against."""
    queries = []
    for query in _plan(mesh, path):
        if query.measure is Measure.BUCKETS:
            queries += [f"histogram_quantile({quantile!r}, {query.promql})" for quantile in QUANTILES.values()]
        else:
            queries.append(query.promql)
    return queries


def _plan(mesh: str, path: str) -> list[PlannedQuery]:
    pack = packs.load(mesh)
    parsed_path = urllib.parse.urlsplit(path)
    query = dict(urllib.parse.parse_qsl(parsed_path.query))
    return plan(pack, parse(pack, parsed_path.path, query).target)


def slowest_direct(store_url: str, queries: list[str], seconds: float) -> dict[str, float]:
    """p50 of each pack query sent alone to the store (wrk, one connection); the slowest one."""
    p50s = []
    for promql in queries:
        body = urllib.parse.urlencode({"query": promql})
        p50s.append(loadgen.run(store_url + "/api/v1/query", connections=1, seconds=seconds, post_body=body).p50_ms)
    return {"slowest_p50_ms": max(p50s), "queries": len(queries)}


def cached(store_url: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The cached GET against the ceiling, on each event loop: server and ceiling on the same one."""
    results = {loop.value: _cached_on(loop, store_url, workdir, args) for loop in EventLoop}
    if args.baseline:   # a checkout from before --event-loop: asyncio's loop
        results["baseline"] = _cached_on(EventLoop.ASYNCIO, store_url, workdir, args, Path(args.baseline))
    return results


def _cached_on(loop: EventLoop, store_url: str, workdir: Path, args: argparse.Namespace,
               checkout: Path = REPO) -> dict[str, Any]:
    flags = ("--event-loop", loop.value) if checkout == REPO else ()
    server = ServerProcess(store_url, "--mesh", "linkerd", *flags, cert_dir=workdir / "certs", cwd=checkout)
    body = server.get(CACHED_PATH).body
    body_file = workdir / "ceiling-body.json"
    body_file.write_bytes(body)
    port = free_port()
    ceiling = subprocess.Popen([sys.executable, "-m", "tests.perf.ceiling", str(body_file), str(port),
                                str(workdir / "certs"), loop.value], cwd=REPO)
    try:
        ceiling_url = f"https://127.0.0.1:{port}{CACHED_PATH}"
        _wait_https(ceiling_url)
        url = server.url + CACHED_PATH
        result: dict[str, Any] = {"body_bytes": len(body)}
        # Server and ceiling alternate run by run, so that load from elsewhere on the machine hits both alike.
        result["server_max"], result["ceiling_max"] = interleaved(
            args.runs, lambda: loadgen.run(url, connections=32, seconds=args.seconds),
            lambda: loadgen.run(ceiling_url, connections=32, seconds=args.seconds))
        half = result["server_max"]["rate"] / 2
        pause = 8 * 1000 / half   # 8 connections, each pausing after a response: about `half` requests/s
        result["server_half"], result["ceiling_half"] = interleaved(
            args.runs, lambda: loadgen.run(url, connections=8, seconds=args.seconds, pause_ms=pause),
            lambda: loadgen.run(ceiling_url, connections=8, seconds=args.seconds, pause_ms=pause))
        result["ratio"] = result["server_max"]["rate"] / result["ceiling_max"]["rate"]
        return result
    finally:
        ceiling.terminate()
        ceiling.wait()
        server.stop()


def autoscaling(store_url: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """A cached custom-metrics get against a cached SMI get of the same object, in the same server and run,
    alternated run by run (target: within 10 %): the only difference is routing and rendering."""
    server = ServerProcess(store_url, "--mesh", "linkerd", "--enable-custom-metrics", cert_dir=workdir / "certs")
    try:
        for path in (COLD_PATH, CUSTOM_PATH):
            assert server.get(path).status == 200, path
        smi, custom = interleaved(
            args.runs, lambda: loadgen.run(server.url + COLD_PATH, connections=32, seconds=args.seconds),
            lambda: loadgen.run(server.url + CUSTOM_PATH, connections=32, seconds=args.seconds))
        return {"smi": smi, "custom": custom, "ratio": custom["rate"] / smi["rate"]}
    finally:
        server.stop()


def cold(server: ServerProcess, store_url: str, args: argparse.Namespace, prometheus: bool) -> dict[str, Any]:
    """`server` runs with --cache-ttl 0: every request queries the store."""
    queries = planned_queries("linkerd", COLD_PATH)
    direct = slowest_direct(store_url, queries, args.seconds)
    direct["concurrent_p50_ms"] = asyncio.run(concurrent_direct(store_url, queries, iterations=int(40 * args.seconds)))
    legacy = legacy_queries("linkerd", COLD_PATH)
    direct["legacy_queries"] = len(legacy)
    direct["legacy_concurrent_p50_ms"] = asyncio.run(
        concurrent_direct(store_url, legacy, iterations=int(40 * args.seconds)))
    served = median_of(args.runs, lambda: loadgen.run(server.url + COLD_PATH, connections=1, seconds=args.seconds))
    if prometheus:
        served["store_queries"] = evaluations(store_url, lambda: server.get(COLD_PATH))
    budget = 1.15 * direct["slowest_p50_ms"] + 2
    return {"direct": direct, "server": served, "target_ms": budget,
            "ratio": served["p50_ms"] / direct["slowest_p50_ms"],
            "ratio_concurrent": served["p50_ms"] / direct["concurrent_p50_ms"],
            "ratio_legacy": served["p50_ms"] / direct["legacy_concurrent_p50_ms"]}


async def concurrent_direct(store_url: str, queries: list[str], iterations: int) -> float:
    """Median wall time of sending every query of a request to the store at once (Python client): the
    floor for a cold request when the store has fewer free cores than the request has queries."""
    async with aiohttp.ClientSession(headers={"Accept-Encoding": "identity"}) as session:
        async def one(promql: str) -> None:
            async with session.post(store_url + "/api/v1/query", data={"query": promql}) as response:
                await response.read()
        times = []
        for _ in range(iterations):
            started = time.perf_counter()
            await asyncio.gather(*(one(q) for q in queries))
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def evaluations(store_url: str, request: Callable[[], object]) -> float:
    """How many queries Prometheus evaluated while `request` ran (nothing else queries it meanwhile)."""
    before = query_count(store_url)
    request()
    return query_count(store_url) - before


def query_count(store_url: str) -> float:
    """Prometheus' own count of evaluated queries."""
    text = urllib.request.urlopen(store_url + "/metrics", timeout=10).read().decode()
    match = re.search(r'^prometheus_engine_query_duration_seconds_count\{slice="inner_eval"\} (\S+)$', text, re.M)
    assert match, "prometheus_engine_query_duration_seconds_count not exposed"
    return float(match.group(1))


async def _burst(url: str, clients: int) -> list[int]:
    connector = aiohttp.TCPConnector(ssl=_INSECURE, limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one() -> int:
            async with session.get(url) as response:
                await response.read()
                return response.status
        return list(await asyncio.gather(*(one() for _ in range(clients))))


def coalescing(server: ServerProcess, store_url: str, clients: int = 100, cache_ttl: float = 5.0) -> dict[str, Any]:
    window = f"{int(time.time()) % 3000 + 60}s"   # a window no earlier request used: cold
    path = f"{COLD_PATH}?t={window}"
    expected = len(planned_queries("linkerd", path))
    while time.time() % cache_ttl > 0.5:           # keep the burst inside one evaluation instant
        time.sleep(0.05)
    before = query_count(store_url)
    statuses = asyncio.run(_burst(server.url + path, clients))
    after = query_count(store_url)
    return {"clients": clients, "statuses": sorted(set(statuses)), "store_queries": after - before,
            "pack_queries": expected}


def median_ms(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def post_query(store_url: str, promql: str) -> bytes:
    request = urllib.request.Request(store_url + "/api/v1/query", data=urllib.parse.urlencode({"query": promql}).encode())
    with urllib.request.urlopen(request, timeout=300) as response:
        return response.read()


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def scale(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Per size: the store's own cost of the list and edges queries (ours and those of before issue 15),
    then our server on it, and the --baseline checkout's server on the same store in the same run."""
    results: dict[str, Any] = {}
    for pods in args.sizes:
        started = time.monotonic()
        store = prometheus_with(scale_scenario(pods), ("linkerd",), workdir / f"scale-{pods}")
        try:
            entry: dict[str, Any] = {"load_seconds": time.monotonic() - started}
            for name, path in (("list", SCALE_LIST), ("edges", SCALE_EDGES)):
                queries = planned_queries("linkerd", path)
                entry[name] = {
                    "direct_slowest_p50_ms": max(median_ms(args.runs, lambda: post_query(store.url, q)) for q in queries),
                    "direct_concurrent_p50_ms": asyncio.run(concurrent_direct(store.url, queries, args.runs)),
                    "legacy_concurrent_p50_ms": asyncio.run(
                        concurrent_direct(store.url, legacy_queries("linkerd", path), args.runs))}
            entry["ours"] = _scale_server(store.url, workdir, args, REPO)
            if args.baseline:
                entry["baseline"] = _scale_server(store.url, workdir, args, Path(args.baseline))
            for name in ("list", "edges"):
                entry[name]["ratio_legacy"] = entry["ours"][name]["server_p50_ms"] / entry[name]["legacy_concurrent_p50_ms"]
            results[str(pods)] = entry
        finally:
            store.stop()
    return results


def _scale_server(store_url: str, workdir: Path, args: argparse.Namespace, checkout: Path) -> dict[str, Any]:
    """One checkout's server on a scale store: cold list and edges, peak RSS, 50 clients on the list."""
    budget = ("--request-timeout", "120")   # Prometheus itself needs more than 10 s for the largest lists
    cold_server = ServerProcess(store_url, "--mesh", "linkerd", "--cache-ttl", "0", *budget,
                                cert_dir=workdir / "certs", cwd=checkout)
    warm_server = ServerProcess(store_url, "--mesh", "linkerd", *budget, cert_dir=workdir / "certs", cwd=checkout)
    try:
        entry: dict[str, Any] = {}
        for name, path in (("list", SCALE_LIST), ("edges", SCALE_EDGES)):
            replies = []
            store_queries = evaluations(store_url, lambda: replies.append(cold_server.get(path, timeout=300)))
            assert replies[0].status == 200, replies[0].body[:300]
            # Requests of several seconds: timed one after another (a wrk run of a few seconds would
            # complete too few of them).
            entry[name] = {"items": len(replies[0].json()["items"]), "body_bytes": len(replies[0].body),
                           "store_queries": store_queries,
                           "server_p50_ms": median_ms(args.runs, lambda: cold_server.get(path, timeout=300))}
        entry["cold_peak_rss_mib"] = rss_kib(cold_server.proc.pid, "VmHWM") / 1024
        warm_server.get(SCALE_LIST, timeout=300)
        # Long enough for several recomputations (each cache TTL) and for answers to flow.
        seconds = max(args.seconds, 4 * entry["list"]["server_p50_ms"] / 1000 + 5)
        load = loadgen.run(warm_server.url + SCALE_LIST, connections=50, seconds=seconds, timeout_s=120)
        entry["clients50"] = {"seconds": seconds, "rate": load.rate, "p50_ms": load.p50_ms, "p99_ms": load.p99_ms,
                              "errors": load.errors + load.non2xx,
                              "peak_rss_mib": rss_kib(warm_server.proc.pid, "VmHWM") / 1024}
        return entry
    finally:
        cold_server.stop()
        warm_server.stop()


def recorded(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The cold list of the largest scale scenario, from recording rules (`queries rules --windows 1h`,
    backfilled with promtool) against the raw series, in one store, timed alternately; and Prometheus'
    own count of the queries each one evaluates."""
    pods = max(args.sizes)
    scenario = scale_scenario(pods)
    store = prometheus_with(scenario, ("linkerd",), workdir / f"recorded-{pods}")
    try:
        rules = write_rules("linkerd", workdir, windows=SCALE_WINDOW)
        started = time.monotonic()
        # Every minute from the last samples until the window no longer covers them (stores.py).
        backfill_rules(store, rules, scenario.end - 120, scenario.end + 1800, SCALE_STEP, workdir)
        backfill_seconds = time.monotonic() - started
        flags = ("--mesh", "linkerd", "--cache-ttl", "0", "--request-timeout", "120")
        from_rules = ServerProcess(store.url, *flags, cert_dir=workdir / "certs")
        from_raw = ServerProcess(store.url, *flags, "--recording-rules", "off", cert_dir=workdir / "certs")
        try:
            from_rules.get(SCALE_LIST, timeout=300)   # starts the detection of the recorded series
            time.sleep(2)
            assert "recording rules in use for [(" in from_rules.log_path.read_text(), "recordings not detected"
            entry: dict[str, Any] = {"pods": pods, "backfill_seconds": backfill_seconds}
            for name, server in (("rules", from_rules), ("raw", from_raw)):
                replies = []
                queries = evaluations(store.url, lambda: replies.append(server.get(SCALE_LIST, timeout=300)))
                assert replies[0].status == 200, replies[0].body[:300]
                entry[name] = {"queries": queries, "items": len(replies[0].json()["items"])}
            times: dict[str, list[float]] = {"rules": [], "raw": []}
            for _ in range(args.runs):
                for name, server in (("rules", from_rules), ("raw", from_raw)):
                    times[name].append(median_ms(1, lambda: server.get(SCALE_LIST, timeout=300)))
            for name, values in times.items():
                entry[name]["p50_ms"] = statistics.median(values)
            entry["ratio"] = entry["rules"]["p50_ms"] / entry["raw"]["p50_ms"]
            return entry
        finally:
            from_rules.stop()
            from_raw.stop()
    finally:
        store.stop()


def victoria(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    store = VictoriaMetricsServer(workdir / "victoria").start()
    try:
        store.import_scenario(default_scenario(), ("linkerd",))
        return _cold_and_cached(store.url, workdir, args, prometheus=False)
    finally:
        store.stop()


def _cold_and_cached(store_url: str, workdir: Path, args: argparse.Namespace, prometheus: bool) -> dict[str, Any]:
    """Coalescing is counted with Prometheus' own query counter, so it runs against Prometheus only."""
    warm = ServerProcess(store_url, "--mesh", "linkerd", cert_dir=workdir / "certs")
    cold_server = ServerProcess(store_url, "--mesh", "linkerd", "--cache-ttl", "0", cert_dir=workdir / "certs")
    try:
        out: dict[str, Any] = {}
        if "cached" in args.only:
            out["cached"] = cached(store_url, workdir, args)
        if "cold" in args.only:
            out["cold"] = cold(cold_server, store_url, args, prometheus)
        if "coalescing" in args.only and prometheus:
            out["coalescing"] = coalescing(warm, store_url)
        return out
    finally:
        warm.stop()
        cold_server.stop()


def _wait_https(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, context=_INSECURE, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def _p50_p99(stats: dict[str, float]) -> str:
    return f"{stats['p50_ms']:.2f}/{stats['p99_ms']:.2f}"


def report(results: dict[str, Any]) -> str:
    lines = []
    for store in ("prometheus", "victoria"):
        part = results.get(store, {})
        for loop, c in part.get("cached", {}).items():
            lines.append(f"[{store}] cached GET on {loop} ({c['body_bytes']} B): server {c['server_max']['rate']:.0f} "
                         f"req/s, ceiling {c['ceiling_max']['rate']:.0f} req/s, ratio {c['ratio']:.2f} (target ≥ 0.8); "
                         f"at half rate ({c['server_max']['rate'] / 2:.0f} req/s) server p50/p99 "
                         f"{_p50_p99(c['server_half'])} ms (target p99 ≤ 2), "
                         f"ceiling {_p50_p99(c['ceiling_half'])} ms; "
                         f"max-rate p50/p99 server {_p50_p99(c['server_max'])} "
                         f"ceiling {_p50_p99(c['ceiling_max'])} ms; "
                         f"errors {c['server_max']['errors'] + c['server_half']['errors']}")
        if "cold" in part:
            c = part["cold"]
            lines.append(f"[{store}] cold GET ({c['direct']['queries']} queries): server p50 "
                         f"{c['server']['p50_ms']:.2f} ms p99 {c['server']['p99_ms']:.2f} ms, slowest query direct p50 "
                         f"{c['direct']['slowest_p50_ms']:.2f} ms, ratio {c['ratio']:.2f}, all queries sent at once "
                         f"directly {c['direct']['concurrent_p50_ms']:.2f} ms (ratio {c['ratio_concurrent']:.2f}), "
                         f"target ≤ {c['target_ms']:.2f} ms (1.15× + 2 ms): "
                         f"{'met' if c['server']['p50_ms'] <= c['target_ms'] else 'NOT met'}; "
                         f"the {c['direct']['legacy_queries']} queries of before issue 15 at once directly "
                         f"{c['direct']['legacy_concurrent_p50_ms']:.2f} ms, ratio {c['ratio_legacy']:.2f} "
                         f"(target ≤ 0.75); Prometheus evaluated {c['server'].get('store_queries', '?')} queries "
                         f"per cold GET")
        if "autoscaling" in part:
            c = part["autoscaling"]
            lines.append(f"[{store}] cached custom-metrics get {c['custom']['rate']:.0f} req/s (p50/p99 "
                         f"{_p50_p99(c['custom'])} ms) vs cached SMI get of the same "
                         f"object {c['smi']['rate']:.0f} req/s ({_p50_p99(c['smi'])} ms): "
                         f"ratio {c['ratio']:.3f} (target within 10 %); "
                         f"errors {c['custom']['errors'] + c['smi']['errors']}")
        if "coalescing" in part:
            c = part["coalescing"]
            lines.append(f"[{store}] coalescing: {c['clients']} concurrent identical cold requests (statuses "
                         f"{c['statuses']}) → {c['store_queries']:.0f} queries at Prometheus; one pack set = "
                         f"{c['pack_queries']}")
    for pods, entry in results.get("scale", {}).items():
        lines.append(f"[scale {pods} pods] load {entry['load_seconds']:.0f}s; " + "; ".join(
            f"{name}: the store alone: slowest query {entry[name]['direct_slowest_p50_ms']:.1f} ms, our queries at "
            f"once {entry[name]['direct_concurrent_p50_ms']:.1f} ms, the queries of before issue 15 at once "
            f"{entry[name]['legacy_concurrent_p50_ms']:.1f} ms; our server / those: {entry[name]['ratio_legacy']:.2f} "
            f"(target ≤ 0.6)" for name in ("list", "edges")))
        for who in ("ours", "baseline"):
            if who in entry:
                server = entry[who]
                lines.append(f"[scale {pods} pods, {who}] " + "; ".join(
                    f"{name}: {server[name]['items']} items {server[name]['body_bytes']} B, {server[name]['store_queries']:.0f} "
                    f"queries evaluated, cold p50 {server[name]['server_p50_ms']:.1f} ms" for name in ("list", "edges"))
                    + f"; cold peak RSS {server['cold_peak_rss_mib']:.0f} MiB; 50 clients on the list: "
                      f"{server['clients50']['rate']:.1f} req/s over {server['clients50']['seconds']:.0f} s, "
                      f"p99 {server['clients50']['p99_ms']:.0f} ms, errors {server['clients50']['errors']}, "
                      f"peak RSS {server['clients50']['peak_rss_mib']:.0f} MiB (target ≤ 150)")
    if "recorded" in results:
        r = results["recorded"]
        lines.append(f"[recorded {r['pods']} pods] backfill {r['backfill_seconds']:.0f}s; cold list from recording rules "
                     f"p50 {r['rules']['p50_ms']:.1f} ms ({r['rules']['queries']:.0f} queries evaluated), from raw series "
                     f"{r['raw']['p50_ms']:.1f} ms ({r['raw']['queries']:.0f} queries): ratio {r['ratio']:.3f} "
                     f"(target ≤ 0.1); items {r['rules']['items']}/{r['raw']['items']}")
    scale_results = results.get("scale", {})
    if "50" in scale_results and "5000" in scale_results:
        small, large = scale_results["50"]["ours"]["list"], scale_results["5000"]["ours"]["list"]
        lines.append(f"[scale] 5000/50 list time ratio {large['server_p50_ms'] / small['server_p50_ms']:.1f}; "
                     f"the store's slowest query: {scale_results['5000']['list']['direct_slowest_p50_ms'] / scale_results['50']['list']['direct_slowest_p50_ms']:.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (the median is reported)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per load run")
    parser.add_argument("--only", default="cached,cold,coalescing,autoscaling,scale,recorded,victoria")
    parser.add_argument("--sizes", default=",".join(map(str, SCALE_SIZES)), help="pod counts for the scale run")
    parser.add_argument("--json", default="perf-results.json")
    parser.add_argument("--baseline", help="another checkout of this repository (e.g. `git worktree add /tmp/before "
                                           "<commit>`) whose server is measured in the same run: cached GET and scale")
    args = parser.parse_args(argv)
    args.only = set(args.only.split(","))
    args.sizes = [int(s) for s in args.sizes.split(",")]
    if not loadgen.available():
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "args": vars(args) | {"only": sorted(args.only)},
                               "loadavg_before": Path("/proc/loadavg").read_text().split()[:3]}
    with tempfile.TemporaryDirectory(prefix="smi-perf-") as scratch:
        workdir = Path(scratch)
        (workdir / "certs").mkdir()
        if args.only & {"cached", "cold", "coalescing", "autoscaling"}:
            store: PrometheusServer = default_prometheus(workdir / "prometheus")
            try:
                results["prometheus"] = _cold_and_cached(store.url, workdir, args, prometheus=True)
                if "autoscaling" in args.only:
                    results["prometheus"]["autoscaling"] = autoscaling(store.url, workdir, args)
            finally:
                store.stop()
        if "victoria" in args.only:
            results["victoria"] = victoria(workdir, args)
        if "scale" in args.only:
            results["scale"] = scale(workdir, args)
        if "recorded" in args.only:
            results["recorded"] = recorded(workdir, args)
    results["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
    print(f"load average before {' '.join(results['loadavg_before'])}, after {' '.join(results['loadavg_after'])}")
    print(report(results))
    Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0
