"""Start-up wiring shared by `serve` and `demo`: settings → pack, TLS, cluster access → a running Server."""
from __future__ import annotations

import logging
import ssl
from pathlib import Path

from . import packs
from .certs import ensure_self_signed, service_hosts
from .config import ConfigError, Settings
from .detect import detect
from .prometheus import PrometheusClient
from .server import Server, run
from .tls import ServingTls

log = logging.getLogger("metrics_api")


async def serve(settings: Settings) -> int:
    """Resolve the pack and TLS, connect to the cluster unless --local, serve until SIGTERM."""
    pack = await _pack(settings)
    tls = _serving_tls(settings)
    if settings.local:
        log.warning("--local: no authentication and no Kubernetes access; listening on %s only", settings.bind_address)
        await run(Server(settings, pack, PrometheusClient.for_settings(settings)), tls)
        return 0
    # Imported here: the Kubernetes client costs ~38 MiB of memory that --local mode never needs.
    from .kube.cluster import Cluster

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
