"""Command line: `python -m metrics_api serve|demo ...` (also the `smi-metrics-api` script)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from . import __version__, packs, tools
from .config import ConfigError, add_flags, settings_from
from .detect import DetectionError
from .startup import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="smi-metrics-api", description="SMI Traffic Metrics API server")
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    add_flags(commands.add_parser("serve", help="serve the API"))
    demo = commands.add_parser("demo", help="run a demo: generated mesh traffic in a real Prometheus + the server")
    demo.add_argument("--mesh", default="linkerd", help="which mesh's series to generate and serve")
    demo.add_argument("--secure-port", type=int, default=6443)
    tools.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "queries":
        return tools.run(args)
    if args.command == "demo":
        from .demo import run_demo
        return run_demo(args.mesh, args.secure_port)
    try:
        settings = settings_from(args)
    except ConfigError as error:
        print(f"smi-metrics-api: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(serve(settings))
    except (ConfigError, packs.PackError, DetectionError) as error:
        print(f"smi-metrics-api: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
