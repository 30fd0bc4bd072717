"""Command line: `python -m metrics_api serve|demo ...` (also the `smi-metrics-api` script)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import ssl
import sys
from pathlib import Path

from . import __version__, packs, tools
from .certs import ensure_self_signed, service_hosts
from .config import ConfigError, Settings, add_flags, settings_from
from .detect import DetectionError, detect
from .kube.cluster import Cluster
from .prometheus import PrometheusClient
from .server import Server, run
from .tls import ServingTls

log = logging.getLogger("metrics_api")


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
        return asyncio.run(_serve(settings))
    except (ConfigError, packs.PackError, DetectionError) as error:
        print(f"smi-metrics-api: {error}", file=sys.stderr)
        return 2


async def _serve(settings: Settings) -> int:
    pack = await _pack(settings)
    tls = _serving_tls(settings)
    if settings.local:
        log.warning("--local: no authentication and no Kubernetes access; listening on %s only", settings.bind_address)
        await run(Server(settings, pack, PrometheusClient.for_settings(settings)), tls)
        return 0
    cluster = await Cluster.connect(settings, pack, tls)
    try:
        await run(Server(settings, pack, PrometheusClient.for_settings(settings), gate=cluster.gate,
                         workloads=cluster.workloads), tls)
    finally:
        await cluster.close()
    return 0


def _serving_tls(settings: Settings) -> ServingTls:
    if settings.tls_cert_file and settings.tls_private_key_file:
        cert, key = Path(settings.tls_cert_file), Path(settings.tls_private_key_file)
    else:
        hosts = service_hosts(settings.service_name, settings.service_namespace)
        cert, key = ensure_self_signed(Path(settings.cert_dir), hosts)
    try:
        return ServingTls(cert, key, settings.reload_interval)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the serving certificate {cert} with key {key}: {exc}") from None


async def _pack(settings: Settings) -> packs.Pack:
    if settings.query_packs:
        for pack in packs.use_overrides(settings.query_packs):
            log.info("query pack %s from %s replaces the shipped one", pack.name, pack.path)
    if settings.mesh != "auto":
        return packs.load(settings.mesh)
    client = PrometheusClient.for_settings(settings)
    await client.start()
    try:
        pack = await detect(client, settings.request_timeout)
    finally:
        await client.close()
    log.info("--mesh auto: detected %s", pack.name)
    return pack


if __name__ == "__main__":
    sys.exit(main())
