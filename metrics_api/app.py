"""The one place that wires the stages: settings → pack catalog, store client, TLS, cluster access →
a running Server. Used by `serve` and by the demo."""
from __future__ import annotations

import logging
import ssl
from pathlib import Path

from metrics_api.cli.config import ConfigError, Settings
from metrics_api.http.certs import ensure_self_signed, service_hosts
from metrics_api.http.server import Server, run
from metrics_api.http.tls import ServingTls
from metrics_api.kube.routes import RoutesError, RoutesFile
from metrics_api.packs.catalog import Catalog
from metrics_api.packs.detect import Detector
from metrics_api.packs.model import Pack
from metrics_api.store.prometheus import PrometheusClient

log = logging.getLogger("metrics_api")


async def serve(settings: Settings) -> int:
    """Resolve the pack and TLS, connect to the cluster unless --local, serve until SIGTERM."""
    pack = await resolve_pack(settings, catalog_for(settings))
    tls = _serving_tls(settings)
    if settings.local:
        log.warning("--local: no authentication and no Kubernetes access; listening on %s only", settings.bind_address)
        await run(Server(settings, pack, PrometheusClient.for_settings(settings), splits=routes_file(settings)), tls)
        return 0
    # Imported here: the Kubernetes client costs ~38 MiB of memory that --local mode never needs.
    from metrics_api.kube.cluster import Cluster
    from metrics_api.kube.routes import ClusterRoutes

    pack = pack.for_cluster()   # with Kubernetes access, views through pods and Services (`cluster.kinds`)
    cluster = await Cluster.connect(settings, pack, tls)
    try:
        await run(Server(settings, pack, PrometheusClient.for_settings(settings), gate=cluster.gate,
                         workloads=cluster.workloads, splits=ClusterRoutes(cluster.kube)), tls)
    finally:
        await cluster.close()
    return 0


def routes_file(settings: Settings) -> RoutesFile | None:
    """--routes-file: the split objects --local mode serves as v1alpha2 trafficsplits/httproutes."""
    if not settings.routes_file:
        return None
    try:
        return RoutesFile(Path(settings.routes_file))
    except RoutesError as exc:
        raise ConfigError(str(exc)) from None


def catalog_for(settings: Settings) -> Catalog:
    """The shipped packs plus the user's --query-packs (validated now)."""
    catalog = Catalog()
    if settings.query_packs:
        for pack in catalog.add_overrides(settings.query_packs):
            log.info("query pack %s from %s replaces the shipped one", pack.name, pack.path)
    return catalog


async def resolve_pack(settings: Settings, catalog: Catalog) -> Pack:
    """The pack `--mesh` names, or for `auto` the one whose series the store holds."""
    if settings.mesh != "auto":
        return catalog.load(settings.mesh)
    client = PrometheusClient.for_settings(settings)
    await client.start()
    try:
        pack = await Detector(catalog, client).detect(settings.request_timeout)
    finally:
        await client.close()
    log.info("--mesh auto: detected %s", pack.name)
    return pack


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
