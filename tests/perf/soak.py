"""Soak (on demand, not in CI): mixed load on the server for --minutes while the real Prometheus behind it
is stopped and restarted every --restart-every seconds. Passes (exit 0) when no status other than 200,
429, 503 and 504 was seen and RSS after the first minute grew by at most --rss-growth-mib.

    python -m tests.perf.soak [--minutes 10]"""
from __future__ import annotations

import argparse
import asyncio
import collections
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from meshsim.store import PrometheusServer
from metrics_api.apis.smi import API_PREFIX
from tests.support.serverproc import ServerProcess

from .run import _INSECURE, rss_kib
from .stores import default_prometheus

PATHS = [f"{API_PREFIX}/namespaces/shop/deployments", f"{API_PREFIX}/namespaces/shop/deployments/web",
         f"{API_PREFIX}/namespaces/shop/deployments/api/edges", f"{API_PREFIX}/pods", f"{API_PREFIX}/namespaces",
         f"{API_PREFIX}/namespaces/shop/trafficmetrics", f"{API_PREFIX}/namespaces/shop/deployments/nope"]
EXPECTED = {200, 404, 429, 503, 504}


async def client(url: str, until: float, statuses: collections.Counter, rng: random.Random) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_INSECURE)) as session:
        while time.monotonic() < until:
            path = rng.choice(PATHS)
            if rng.random() < 0.2:   # a cold request: a window nobody asked for yet
                path += f"?t={rng.randint(10, 3600)}s"
            try:
                async with session.get(url + path, timeout=aiohttp.ClientTimeout(total=30)) as response:
                    body = await response.read()
                    statuses[response.status] += 1
                    if response.status not in EXPECTED:
                        print(f"unexpected {response.status} for {path}: {body[:300]!r}", flush=True)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                statuses[type(exc).__name__] += 1
            await asyncio.sleep(rng.random() * 0.02)


async def chaos(store, until: float, every: float, outage: float, restarts: list[float]) -> None:
    while time.monotonic() + every < until:
        await asyncio.sleep(every)
        await asyncio.to_thread(store.stop)
        await asyncio.sleep(outage)
        await asyncio.to_thread(store.start)
        restarts.append(time.monotonic())


async def sample_rss(pid: int, until: float, samples: list[tuple[float, int]]) -> None:
    started = time.monotonic()
    while time.monotonic() < until:
        samples.append((time.monotonic() - started, rss_kib(pid, "VmRSS")))
        await asyncio.sleep(5)


async def soak(server: ServerProcess, store, args: argparse.Namespace) -> dict:
    until = time.monotonic() + args.minutes * 60
    statuses: collections.Counter = collections.Counter()
    samples: list[tuple[float, int]] = []
    restarts: list[float] = []
    await asyncio.gather(
        *(client(server.url, until, statuses, random.Random(i)) for i in range(args.clients)),
        chaos(store, until, args.restart_every, args.outage, restarts),
        sample_rss(server.proc.pid, until, samples))
    return {"statuses": dict(statuses), "restarts": len(restarts), "rss": samples}


def soak_with_store(run: Callable[[ServerProcess, PrometheusServer, argparse.Namespace], Awaitable[dict]],
                    args: argparse.Namespace) -> dict:
    """`run(server, store, args)` against a server in --local mode on a real Prometheus, both stopped after."""
    with tempfile.TemporaryDirectory(prefix="smi-soak-") as scratch:
        workdir = Path(scratch)
        store = default_prometheus(workdir / "prometheus")
        server = ServerProcess(store.url, "--mesh", "linkerd", "--stale-if-error", "30", "--request-timeout", "5",
                               cert_dir=workdir)
        try:
            return asyncio.run(run(server, store, args))
        finally:
            server.stop()
            store.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--restart-every", type=float, default=60, help="seconds between Prometheus restarts")
    parser.add_argument("--outage", type=float, default=10, help="seconds Prometheus stays down")
    parser.add_argument("--rss-growth-mib", type=float, default=30)
    args = parser.parse_args(argv)
    result = soak_with_store(soak, args)
    settled = [kib for at, kib in result["rss"] if at >= 60] or [kib for _, kib in result["rss"]]
    growth = (max(settled) - settled[0]) / 1024
    unexpected = {k: v for k, v in result["statuses"].items() if k not in EXPECTED}
    print(f"{args.minutes:g} min, {args.clients} clients, {result['restarts']} Prometheus restarts; "
          f"statuses {dict(sorted(result['statuses'].items(), key=str))}; RSS after 1 min {settled[0] / 1024:.0f} MiB, "
          f"max {max(settled) / 1024:.0f} MiB, end {settled[-1] / 1024:.0f} MiB (growth {growth:.1f} MiB, bound "
          f"{args.rss_growth_mib:g}); unexpected {unexpected or 'none'}")
    return 0 if not unexpected and growth <= args.rss_growth_mib else 1


if __name__ == "__main__":
    sys.exit(main())
