"""Hostile soak (on demand, not in CI): for --minutes, --connections TLS connections that each send half a
request head and hold it (re-opened whenever the server closes them), a stream of requests with junk
query strings, and Prometheus stopped and restarted every --restart-every seconds, while one legitimate
client reads a list every 50 ms. Passes (exit 0) when the server's RSS stays under --max-rss-mib and the
legitimate client's p99 latency under --max-p99-ms.

    python -m tests.perf.soak_hostile [--minutes 10] [--connections 3000]"""
from __future__ import annotations

import argparse
import asyncio
import collections
import random
import ssl
import string
import sys
import time

import aiohttp

from metrics_api.apis.smi import API_PREFIX
from tests.support.serverproc import ServerProcess

from .run import _INSECURE
from .soak import chaos, sample_rss, soak_with_store

LEGITIMATE = f"{API_PREFIX}/namespaces/shop/deployments"
HALF_HEAD = b"GET /apis HTTP/1.1\r\nHost: soak\r\nX-Slow: "


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


async def junk(url: str, until: float, size: int, statuses: collections.Counter, rng: random.Random) -> None:
    alphabet = string.ascii_letters + string.digits
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_INSECURE)) as session:
        while time.monotonic() < until:
            query = "".join(rng.choice(alphabet) for _ in range(size))
            try:
                async with session.get(f"{url}{LEGITIMATE}?junk={query}",
                                       timeout=aiohttp.ClientTimeout(total=30)) as response:
                    await response.read()
                    statuses[response.status] += 1
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                statuses[type(exc).__name__] += 1
            await asyncio.sleep(0.05)


async def legitimate(url: str, until: float, latencies: list[tuple[float, float]],
                     statuses: collections.Counter) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_INSECURE)) as session:
        while time.monotonic() < until:
            started = time.monotonic()
            try:
                async with session.get(url + LEGITIMATE, timeout=aiohttp.ClientTimeout(total=30)) as response:
                    await response.read()
                    statuses[response.status] += 1
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                statuses[type(exc).__name__] += 1
            latencies.append((started, (time.monotonic() - started) * 1000))
            await asyncio.sleep(0.05)


async def soak(server: ServerProcess, store, args: argparse.Namespace) -> dict:
    started = time.monotonic()
    until = started + args.minutes * 60
    held: collections.Counter = collections.Counter()
    junk_statuses: collections.Counter = collections.Counter()
    statuses: collections.Counter = collections.Counter()
    latencies: list[tuple[float, float]] = []
    samples: list[tuple[float, int]] = []
    restarts: list[float] = []
    await asyncio.gather(
        *(hold(server.port, until, held) for _ in range(args.connections)),
        junk(server.url, until, args.junk_bytes, junk_statuses, random.Random(1)),
        legitimate(server.url, until, latencies, statuses),
        chaos(store, until, args.restart_every, args.outage, restarts),
        sample_rss(server.proc.pid, until, samples))
    return {"held": dict(held), "junk": dict(junk_statuses), "statuses": dict(statuses), "restarts": len(restarts),
            "latencies": [(at - started, ms) for at, ms in latencies], "rss": samples}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.soak_hostile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--connections", type=int, default=3000, help="half-sent requests held open")
    parser.add_argument("--junk-bytes", type=int, default=256, help="length of each junk query string")
    parser.add_argument("--restart-every", type=float, default=60, help="seconds between Prometheus restarts")
    parser.add_argument("--outage", type=float, default=10, help="seconds Prometheus stays down")
    parser.add_argument("--max-rss-mib", type=float, default=250)
    parser.add_argument("--max-p99-ms", type=float, default=100)
    args = parser.parse_args(argv)
    result = soak_with_store(soak, args)
    rss = [kib / 1024 for _, kib in result["rss"]]
    latencies = [ms for _, ms in result["latencies"]]
    p99 = percentile(latencies, 0.99)
    per_minute = collections.defaultdict(list)
    for at, ms in result["latencies"]:
        per_minute[int(at // 60)].append(ms)
    print(f"{args.minutes:g} min, {args.connections} half-sent connections held "
          f"({result['held']}), junk requests {result['junk']}, {result['restarts']} Prometheus restarts")
    print(f"legitimate client: {len(latencies)} requests {result['statuses']}, median {percentile(latencies, 0.5):.1f} ms, "
          f"p99 {p99:.1f} ms (bound {args.max_p99_ms:g}); per minute p99 "
          f"{[round(percentile(v, 0.99), 1) for _, v in sorted(per_minute.items())]}")
    print(f"RSS: start {rss[0]:.0f} MiB, max {max(rss):.0f} MiB, end {rss[-1]:.0f} MiB (bound {args.max_rss_mib:g})")
    return 0 if max(rss) < args.max_rss_mib and p99 < args.max_p99_ms else 1


if __name__ == "__main__":
    sys.exit(main())
