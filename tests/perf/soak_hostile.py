"""Hostile soak (on demand, not in CI): for --minutes, --connections TLS connections that each send half a
request head and hold it (re-opened whenever the server closes them), requests with junk query strings at
--junk-rate per second, and Prometheus stopped and restarted every --restart-every seconds, while one
legitimate client reads a list every 50 ms. The legitimate client runs in a process of its own, so that
its latencies are the server's and not the load generator's (whose event loop holds the thousands of
connections). Prints, per minute, the legitimate client's p50/p99/max and the server's peak RSS. Passes
(exit 0) when the RSS stays under --max-rss-mib and every minute's p99 under --max-p99-ms.

    python -m tests.perf.soak_hostile [--minutes 10] [--connections 3000] [--junk-rate 200]"""
from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing
import random
import ssl
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import aiohttp

from metrics_api.apis.smi import API_PREFIX
from tests.support.serverproc import ServerProcess

from .run import _INSECURE
from .soak import chaos, sample_rss, soak_with_store

LEGITIMATE = f"{API_PREFIX}/namespaces/shop/deployments"
HALF_HEAD = b"GET /apis HTTP/1.1\r\nHost: soak\r\nX-Slow: "
LEGITIMATE_PAUSE = 0.05   # seconds between the legitimate client's requests


async def hold(port: int, until: float, counts: collections.Counter) -> None:
    """One slot: a connection with half a request head, re-opened each time the server closes it."""
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, ssl=_INSECURE), 30)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            counts["connect failed"] += 1
            await asyncio.sleep(1)
            continue
        counts["opened"] += 1
        try:
            writer.write(HALF_HEAD)
            await asyncio.wait_for(reader.read(), max(0.1, until - time.monotonic()))
            counts["closed by the server"] += 1
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass
        finally:
            writer.transport.abort()


async def junk(url: str, until: float, rate: float, size: int, statuses: collections.Counter,
               rng: random.Random) -> None:
    """One keep-alive connection sending a request with a new junk query string every 1/rate seconds (on a
    fixed schedule: a slow answer delays the next request, it does not add one)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_INSECURE, limit=1)) as session:
        next_at = time.monotonic() + rng.random() / rate
        while next_at < until:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += 1 / rate
            try:
                async with session.get(f"{url}{LEGITIMATE}?junk={rng.randbytes(size // 2).hex()}",
                                       timeout=aiohttp.ClientTimeout(total=30)) as response:
                    await response.read()
                    statuses[response.status] += 1
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                statuses[type(exc).__name__] += 1


def legitimate(url: str, seconds: float) -> list[tuple[float, float, str]]:
    """(seconds since start, latency in ms, status or error) of each request; run in its own process."""
    async def run() -> list[tuple[float, float, str]]:
        results = []
        started = time.monotonic()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_INSECURE)) as session:
            while time.monotonic() - started < seconds:
                sent = time.monotonic()
                try:
                    async with session.get(url + LEGITIMATE, timeout=aiohttp.ClientTimeout(total=30)) as response:
                        await response.read()
                        outcome = str(response.status)
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    outcome = type(exc).__name__
                results.append((sent - started, (time.monotonic() - sent) * 1000, outcome))
                await asyncio.sleep(LEGITIMATE_PAUSE)
        return results
    return asyncio.run(run())


async def soak(server: ServerProcess, store, args: argparse.Namespace) -> dict:
    seconds = args.minutes * 60
    until = time.monotonic() + seconds
    held: collections.Counter = collections.Counter()
    junk_statuses: collections.Counter = collections.Counter()
    samples: list[tuple[float, int]] = []
    restarts: list[float] = []
    rate_each = args.junk_rate / args.junk_connections
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        legit = asyncio.get_running_loop().run_in_executor(pool, legitimate, server.url, seconds)
        *_, latencies = await asyncio.gather(
            *(hold(server.port, until, held) for _ in range(args.connections)),
            *(junk(server.url, until, rate_each, args.junk_bytes, junk_statuses, random.Random(i))
              for i in range(args.junk_connections) if rate_each > 0),
            chaos(store, until, args.restart_every, args.outage, restarts),
            sample_rss(server.proc.pid, until, samples),
            legit)
    return {"held": dict(held), "junk": dict(junk_statuses), "restarts": len(restarts), "latencies": latencies,
            "rss": samples}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")


def report(result: dict, args: argparse.Namespace) -> bool:
    """Prints the per-minute and overall figures; True when within the bounds."""
    minutes = max(1, round(args.minutes + 0.49))
    by_minute: dict[int, list[tuple[float, str]]] = collections.defaultdict(list)
    for at, ms, outcome in result["latencies"]:
        by_minute[min(int(at // 60), minutes - 1)].append((ms, outcome))
    rss_by_minute: dict[int, list[float]] = collections.defaultdict(list)
    for at, kib in result["rss"]:
        rss_by_minute[min(int(at // 60), minutes - 1)].append(kib / 1024)
    junk_total = sum(result["junk"].values())
    print(f"{args.minutes:g} min, {args.connections} half-sent connections held ({result['held']}), "
          f"junk requests {result['junk']} ({junk_total / (args.minutes * 60):.0f}/s, asked "
          f"{args.junk_rate:g}/s), {result['restarts']} Prometheus restarts")
    worst_p99 = 0.0
    for minute in range(minutes):
        rows = by_minute.get(minute, [])
        latencies = [ms for ms, _ in rows]
        p99 = percentile(latencies, 0.99)
        worst_p99 = max(worst_p99, p99) if latencies else float("inf")
        outcomes = collections.Counter(outcome for _, outcome in rows)
        rss = rss_by_minute.get(minute, [float("nan")])
        print(f"minute {minute + 1}: legitimate {len(rows)} requests {dict(outcomes)}, p50 "
              f"{percentile(latencies, 0.5):.1f} ms, p99 {p99:.1f} ms, max {max(latencies, default=float('nan')):.1f} "
              f"ms; server RSS peak {max(rss):.0f} MiB")
    slowest = sorted(result["latencies"], key=lambda row: -row[1])[:10]
    print("slowest legitimate requests (s into the run, ms): "
          + ", ".join(f"{at:.1f}s {ms:.0f}ms" for at, ms, _ in sorted(slowest)))
    print("server RSS (s, MiB): " + ", ".join(f"{at:.0f} {kib / 1024:.0f}" for at, kib in result["rss"]))
    rss = [kib / 1024 for _, kib in result["rss"]]
    latencies = [ms for _, ms, _ in result["latencies"]]
    print(f"overall: legitimate p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms, worst "
          f"minute p99 {worst_p99:.1f} ms (bound {args.max_p99_ms:g}); RSS start {rss[0]:.0f} MiB, peak "
          f"{max(rss):.0f} MiB, end {rss[-1]:.0f} MiB (bound {args.max_rss_mib:g})")
    return max(rss) < args.max_rss_mib and worst_p99 < args.max_p99_ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.soak_hostile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--connections", type=int, default=3000, help="half-sent requests held open")
    parser.add_argument("--junk-rate", type=float, default=200,
                        help="junk requests per second in all (each with a query string never seen before)")
    parser.add_argument("--junk-connections", type=int, default=8, help="keep-alive connections sending them")
    parser.add_argument("--junk-bytes", type=int, default=256, help="length of each junk query string")
    parser.add_argument("--restart-every", type=float, default=60, help="seconds between Prometheus restarts")
    parser.add_argument("--outage", type=float, default=10, help="seconds Prometheus stays down")
    parser.add_argument("--max-rss-mib", type=float, default=250)
    parser.add_argument("--max-p99-ms", type=float, default=100, help="bound on every minute's p99")
    args = parser.parse_args(argv)
    return 0 if report(soak_with_store(soak, args), args) else 1


if __name__ == "__main__":
    sys.exit(main())
