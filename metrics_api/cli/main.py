"""Command line: `python -m metrics_api serve|queries ...` (also the `smi-metrics-api` script)."""
from __future__ import annotations

import argparse
import logging
import sys

from metrics_api import __version__
from metrics_api.app import serve
from metrics_api.cli import eventloop, queries
from metrics_api.cli.config import ConfigError, add_flags, settings_from
from metrics_api.packs.detect import DetectionError
from metrics_api.packs.model import PackError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="smi-metrics-api", description="SMI Traffic Metrics API server")
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    add_flags(commands.add_parser("serve", help="serve the API"))
    queries.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "queries":
        return queries.run(args)
    try:
        settings = settings_from(args)
    except ConfigError as error:
        print(f"smi-metrics-api: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return eventloop.run(serve(settings), settings.event_loop)
    except (ConfigError, PackError, DetectionError) as error:
        print(f"smi-metrics-api: {error}", file=sys.stderr)
        return 2

