"""`kubectl traffic` (console script `kubectl-traffic`): top, edges, topology and a local dashboard for the SMI
Traffic Metrics API, through the user's kubeconfig."""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable

from metrics_api.client import graph
from metrics_api.client.api import ClientError, Scope, TrafficApi
from metrics_api.client.tables import SortBy, edges_table, render, top_table
from metrics_api.core.kinds import BY_PLURAL, KINDS, TRAFFICMETRICS, Kind

DEFAULT_WINDOW = "30s"
MIN_INTERVAL = 1.0      # seconds between -w refreshes: each refresh is a round of API requests
CLEAR = "\x1b[H\x1b[2J"
# kubectl's short names for the kinds the API serves.
SHORT_NAMES = {"deploy": "deployments", "sts": "statefulsets", "ds": "daemonsets", "rs": "replicasets",
               "po": "pods", "svc": "services", "ns": "namespaces"}


def resolve_plural(text: str) -> Kind | str:
    """A plural, singular, kubectl short name or `trafficmetrics` → what to list."""
    word = text.lower().removesuffix(".metrics.smi-spec.io")
    if word in (TRAFFICMETRICS, "trafficmetric", "tm"):
        return TRAFFICMETRICS
    word = SHORT_NAMES.get(word, word)
    kind = BY_PLURAL.get(word) or next((k for k in KINDS if k.singular == word), None)
    if kind is None:
        raise ClientError(f'error: the server doesn\'t have a resource type "{text}"')
    return kind


def scope_of(args: argparse.Namespace, api: TrafficApi) -> Scope:
    if getattr(args, "all_namespaces", False):
        return Scope(None)
    return Scope(args.namespace or api.context_namespace)


# -- commands --------------------------------------------------------------------------------------------

async def top(args: argparse.Namespace, api: TrafficApi) -> None:
    kind = resolve_plural(args.plural)
    scope = scope_of(args, api)
    namespaced = not isinstance(kind, Kind) or kind.namespaced
    empty = f"No resources found in {scope.namespace} namespace." if namespaced and not scope.all \
        else "No resources found"

    async def frame() -> str:
        samples = await api.list(kind, scope, args.window, args.selector)
        return render(top_table(samples, scope.all and namespaced, args.sort_by), empty)
    await show(frame, args.watch, args.interval)


async def edges(args: argparse.Namespace, api: TrafficApi) -> None:
    plural, slash, name = args.target.partition("/")
    if not slash or not name:
        raise ClientError(f"error: expected PLURAL/NAME (e.g. deployments/web), got {args.target!r}")
    kind = resolve_plural(plural)
    if not isinstance(kind, Kind):
        raise ClientError("error: edges need the resource's own kind (deployments/web), not trafficmetrics")
    namespace = args.namespace or api.context_namespace

    async def frame() -> str:
        samples = await api.edges(kind, namespace, name, args.window)
        return render(edges_table(samples), f"No edges found for {kind.singular}/{name}.")
    await show(frame, args.watch, args.interval)


async def topology(args: argparse.Namespace, api: TrafficApi) -> None:
    found = await graph.load(api, scope_of(args, api), args.window)
    print(graph.RENDERERS[graph.Format(args.output)](found))


async def dashboard(args: argparse.Namespace, api: TrafficApi) -> None:
    from metrics_api.client.dashboard import run_dashboard  # aiohttp's server only for this command

    await run_dashboard(api, scope_of(args, api), args.window, args.port)


async def show(frame: Callable[[], Awaitable[str]], watch: bool, interval: float) -> None:
    """Print once, or every `interval` seconds until Ctrl-C (the screen redrawn on a terminal)."""
    redraw = sys.stdout.isatty()
    while True:
        started = time.monotonic()
        text = await frame()
        if watch and redraw:
            print(CLEAR, end="")
        print(text, flush=True)
        if not watch:
            return
        if not redraw:
            print(flush=True)
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


# -- command line ----------------------------------------------------------------------------------------

def interval(text: str) -> float:
    value = float(text)
    if value < MIN_INTERVAL:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_INTERVAL:g}s")
    return value


def build_parser() -> argparse.ArgumentParser:
    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
    connection.add_argument("--context", help="the kubeconfig context to use")
    connection.add_argument("-n", "--namespace", help="namespace (default: the context's)")
    connection.add_argument("-t", "--window", default=DEFAULT_WINDOW,
                            help="time window as a Go duration, 1s to 24h (default 30s)")
    all_namespaces = argparse.ArgumentParser(add_help=False)
    all_namespaces.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    watch = argparse.ArgumentParser(add_help=False)
    watch.add_argument("-w", "--watch", action="store_true", help="refresh until Ctrl-C")
    watch.add_argument("--interval", type=interval, default=2.0, help="seconds between refreshes (default 2)")

    parser = argparse.ArgumentParser(prog="kubectl traffic", description="Service-mesh traffic metrics "
                                     "(SMI metrics.smi-spec.io) for any mesh, through your kubeconfig.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    top_parser = commands.add_parser("top", parents=[connection, all_namespaces, watch],
                                     help="success rate, RPS and latencies of each resource")
    top_parser.add_argument("plural", nargs="?", default=TRAFFICMETRICS,
                            help="deployments, statefulsets, pods, namespaces, … (default: trafficmetrics, "
                                 "every workload)")
    top_parser.add_argument("-l", "--selector", help="label selector, e.g. tier=backend")
    top_parser.add_argument("--sort-by", type=SortBy, default=SortBy.NAME, choices=list(SortBy),
                            metavar="{" + ",".join(s.value for s in SortBy) + "}",
                            help="name (default), or worst first: success, rps, p50, p90, p99")
    top_parser.set_defaults(run=top)
    edges_parser = commands.add_parser("edges", parents=[connection, watch],
                                       help="who a resource calls and who calls it")
    edges_parser.add_argument("target", metavar="PLURAL/NAME", help="e.g. deployments/web")
    edges_parser.set_defaults(run=edges)
    topology_parser = commands.add_parser("topology", parents=[connection, all_namespaces],
                                          help="the service graph")
    topology_parser.add_argument("-o", "--output", default=graph.Format.TEXT.value,
                                 choices=[f.value for f in graph.Format])
    topology_parser.set_defaults(run=topology)
    dashboard_parser = commands.add_parser("dashboard", parents=[connection, all_namespaces],
                                           help="a live service graph in your browser (127.0.0.1 only)")
    dashboard_parser.add_argument("--port", type=int, default=8085, help="local port (default 8085; 0: any free)")
    dashboard_parser.set_defaults(run=dashboard)
    return parser


async def run(args: argparse.Namespace) -> None:
    api = await TrafficApi.open(args.kubeconfig, args.context)
    try:
        await args.run(args, api)
    finally:
        await api.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        asyncio.run(run(args))
    except ClientError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0 if getattr(args, "watch", False) or args.command == "dashboard" else 130
    except BrokenPipeError:
        # The reader left (`| head`): stop quietly; stdout goes nowhere so the final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
