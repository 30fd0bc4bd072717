"""Settings from flags, `SMI_METRICS_<FLAG>` environment variables and a `--config` YAML file
(in that order of precedence), validated into one frozen object."""
from __future__ import annotations

import argparse
import enum
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from metrics_api.cli.eventloop import EventLoop
from metrics_api.core.kinds import is_dns1123_label

ENV_PREFIX = "SMI_METRICS_"


class ConfigError(ValueError):
    """Bad settings; the message is the one line the user sees."""


@dataclass(frozen=True)
class Settings:
    prometheus_url: str
    mesh: str = "auto"
    secure_port: int = 6443
    bind_address: str = "0.0.0.0"
    tls_cert_file: str | None = None
    tls_private_key_file: str | None = None
    cert_dir: str | None = None
    kubeconfig: str | None = None
    service_name: str = "smi-metrics-api"
    service_namespace: str = "smi-metrics"
    write_ca_bundle: bool = False
    reload_interval: float = 10.0
    local: bool = False
    cache_ttl: float = 5.0
    request_timeout: float = 10.0
    log_level: str = "info"
    # The metrics store (docs/stores.md) and user query packs (docs/meshes.md).
    prometheus_header: tuple[str, ...] = ()
    prometheus_bearer_token_file: str | None = None
    prometheus_username: str | None = None
    prometheus_password_file: str | None = None
    prometheus_ca_file: str | None = None
    prometheus_cert_file: str | None = None
    prometheus_key_file: str | None = None
    query_packs: str | None = None
    routes_file: str | None = None   # --local: TrafficSplits/HTTPRoutes for v1alpha2 (docs/canary.md)
    # Limits and degradation (docs/operations.md).
    cache_max_entries: int = 4096
    cache_max_bytes: int = 64 << 20
    stale_if_error: float = 0.0
    max_in_flight: int = 400
    max_prometheus_queries: int = 32
    recording_rules: str = "auto"
    max_prometheus_response_bytes: int = 64 << 20
    shutdown_delay: float = 0.0
    drain_timeout: float = 20.0
    # Autoscaling metrics APIs (docs/autoscaling.md): off by default, one backend per group per cluster.
    enable_custom_metrics: bool = False
    enable_external_metrics: bool = False
    scrape_interval: float = 0.0   # 0: learned from the store (pipeline/window.py)
    event_loop: EventLoop = EventLoop.UVLOOP


# flag → (type, help). Defaults come from Settings.
FLAGS: dict[str, tuple[Any, str]] = {
    "prometheus-url": (str, "Prometheus HTTP API base URL (also VictoriaMetrics, Thanos, Mimir); required"),
    "mesh": (str, "query pack: a name from queries/ (linkerd, istio, ...), a YAML file, or auto"),
    "secure-port": (int, "HTTPS port"),
    "bind-address": (str, "listen address"),
    "tls-cert-file": (str, "serving certificate (PEM); default: self-signed in --cert-dir"),
    "tls-private-key-file": (str, "serving private key (PEM)"),
    "cert-dir": (str, "where a generated self-signed pair is kept; default: a temporary directory"),
    "kubeconfig": (str, "Kubernetes access; default: in-cluster configuration"),
    "service-name": (str, "our Service's name: the generated serving certificate is for <name>.<namespace>.svc"),
    "service-namespace": (str, "our Service's namespace (see --service-name)"),
    "write-ca-bundle": (bool, "put the generated CA into the APIService's caBundle (needs patch on apiservices)"),
    "reload-interval": (float, "seconds between re-reads of the certificate files and the cluster's authentication "
                               "ConfigMap"),
    "local": (bool, "try-it mode: loopback only, no Kubernetes access, no authentication"),
    "cache-ttl": (float, "seconds a Prometheus result is reused (0 disables the cache)"),
    "request-timeout": (float, "seconds a request may wait for Prometheus"),
    "log-level": (str, "debug, info, warning or error"),
    "cache-max-entries": (int, "most Prometheus results kept in the cache"),
    "cache-max-bytes": (int, "most bytes kept by each of the two caches (Prometheus results, rendered answers)"),
    "stale-if-error": (float, "seconds a cached answer may still be served, with a Warning header, while "
                              "Prometheus fails (0: never)"),
    "max-in-flight": (int, "most API requests served at once; the excess gets 429 with Retry-After"),
    "max-prometheus-queries": (int, "most queries sent to Prometheus at once"),
    "recording-rules": (str, "auto: read the series of `queries rules` where the store holds them for a request's window; off: always the raw series"),
    "max-prometheus-response-bytes": (int, "largest Prometheus answer read; a larger one fails the request (500)"),
    "shutdown-delay": (float, "seconds to keep serving, with /readyz failing, after SIGTERM before closing "
                              "the listener"),
    "drain-timeout": (float, "seconds in-flight requests may take to finish once the listener is closed"),
    "scrape-interval": (float, "seconds between the mesh series' samples; a shorter window than two of them is "
                               "widened (0: learn it from the store)"),
    "event-loop": (EventLoop, "uvloop (default) or asyncio: the event loop the server runs on"),
    "prometheus-header": (tuple, "extra header sent to the store, 'Name: value' (repeatable; in the environment "
                                 "one per line), e.g. 'X-Scope-OrgID: team-a'"),
    "prometheus-bearer-token-file": (str, "file holding a bearer token for the store (re-read when it changes)"),
    "prometheus-username": (str, "basic-auth user for the store (with --prometheus-password-file)"),
    "prometheus-password-file": (str, "file holding the basic-auth password (re-read when it changes)"),
    "prometheus-ca-file": (str, "CA bundle (PEM) that signs the store's https certificate"),
    "prometheus-cert-file": (str, "client certificate (PEM) presented to the store"),
    "prometheus-key-file": (str, "private key (PEM) of --prometheus-cert-file"),
    "query-packs": (str, "a query pack YAML file or a directory of them (e.g. a ConfigMap mount), validated at "
                         "start; a pack there replaces the shipped pack of the same mesh name"),
    "enable-custom-metrics": (bool, "also serve custom.metrics.k8s.io v1beta2 and v1beta1 (HPA Object and Pods "
                                    "metrics); only one backend per group may exist in a cluster"),
    "enable-external-metrics": (bool, "also serve external.metrics.k8s.io v1beta1 (HPA External metrics, Flagger); "
                                      "only one backend per group may exist in a cluster"),
    "routes-file": (str, "--local only: a YAML List of TrafficSplits, HTTPRoutes and ReferenceGrants (as `kubectl get "
                         "trafficsplits,httproutes,referencegrants -A -o yaml` prints) served as v1alpha2 "
                         "trafficsplits/httproutes"),
    "config": (str, "YAML file with any of these settings (keys as flag names with _ for -)"),
}


# The flags that say how to reach the metrics store: shared by `serve` and `queries check`.
STORE_FLAGS = ("prometheus-url", "prometheus-header", "prometheus-bearer-token-file", "prometheus-username",
               "prometheus-password-file", "prometheus-ca-file", "prometheus-cert-file", "prometheus-key-file",
               "request-timeout", "max-prometheus-response-bytes", "config")


def add_flags(parser: argparse.ArgumentParser, only: tuple[str, ...] | None = None) -> None:
    """Every flag of FLAGS (or those named in `only`) as an option of `parser`."""
    for flag, (kind, help_text) in FLAGS.items():
        if only is not None and flag not in only:
            continue
        if kind is bool:
            parser.add_argument(f"--{flag}", action="store_const", const=True, default=None, help=help_text)
        elif kind is tuple:
            parser.add_argument(f"--{flag}", action="append", default=None, metavar="VALUE", help=help_text)
        else:
            parser.add_argument(f"--{flag}", type=str, default=None, metavar=flag.split("-")[-1].upper(),
                                help=help_text)


def settings_from(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Settings:
    environ = dict(os.environ) if environ is None else environ
    values: dict[str, Any] = {}
    config_file = getattr(args, "config", None) or environ.get(f"{ENV_PREFIX}CONFIG")
    if config_file:
        values.update(_read_config_file(config_file))
    for flag in FLAGS:
        key = flag.replace("-", "_")
        env_value = environ.get(ENV_PREFIX + key.upper())
        if env_value is not None:
            values[key] = env_value
        flag_value = getattr(args, key, None)
        if flag_value is not None:
            values[key] = flag_value
    values.pop("config", None)
    return _validate(values)


def _read_config_file(path: str) -> dict[str, Any]:
    try:
        document = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read --config {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--config {path} is not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"--config {path} must be a mapping of setting names to values")
    known = {flag.replace("-", "_") for flag in FLAGS}
    values = {str(k).replace("-", "_"): v for k, v in document.items()}
    if unknown := sorted(set(values) - known):
        raise ConfigError(f"--config {path}: unknown setting(s) {', '.join(unknown)}")
    return values


def _validate(values: dict[str, Any]) -> Settings:
    converted: dict[str, Any] = {}
    for key, value in values.items():
        kind = FLAGS[key.replace("_", "-")][0]
        converted[key] = _convert(key, value, kind)
    url = converted.get("prometheus_url")
    if not url:
        raise ConfigError("--prometheus-url is required (or SMI_METRICS_PROMETHEUS_URL)")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"--prometheus-url {url!r} must be an http:// or https:// URL")
    port = converted.get("secure_port", Settings.secure_port)
    if not 0 <= port <= 65535:
        raise ConfigError(f"--secure-port {port} is not a port number")
    for key in ("cache_ttl", "request_timeout"):
        if converted.get(key, 0) < 0 or (key == "request_timeout" and converted.get(key, 1) == 0):
            raise ConfigError(f"--{key.replace('_', '-')} must be positive")
    for key in ("stale_if_error", "shutdown_delay", "drain_timeout", "scrape_interval"):
        if converted.get(key, 0) < 0:
            raise ConfigError(f"--{key.replace('_', '-')} must not be negative")
    for key in ("cache_max_entries", "cache_max_bytes", "max_in_flight", "max_prometheus_queries",
                "max_prometheus_response_bytes"):
        if converted.get(key, 1) < 1:
            raise ConfigError(f"--{key.replace('_', '-')} must be at least 1")
    if not 0 < converted.get("reload_interval", Settings.reload_interval) <= 60:
        raise ConfigError("--reload-interval must be more than 0 and at most 60 seconds")
    for key in ("service_name", "service_namespace"):
        if key in converted and not is_dns1123_label(converted[key]):
            raise ConfigError(f"--{key.replace('_', '-')} {converted[key]!r} is not a valid Kubernetes name")
    if converted.get("write_ca_bundle") and (converted.get("tls_cert_file") or converted.get("local")):
        raise ConfigError("--write-ca-bundle writes the generated CA: it goes with neither --tls-cert-file nor --local")
    if converted.get("routes_file") and not converted.get("local"):
        raise ConfigError("--routes-file goes with --local: in a cluster the splits are read from the Kubernetes API")
    if bool(converted.get("tls_cert_file")) != bool(converted.get("tls_private_key_file")):
        raise ConfigError("--tls-cert-file and --tls-private-key-file go together")
    if converted.get("local"):
        bind = converted.get("bind_address", "127.0.0.1")
        if not _is_loopback(bind):
            bind = "127.0.0.1"
        converted["bind_address"] = bind
    if not converted.get("cert_dir"):
        converted["cert_dir"] = str(Path(tempfile.gettempdir()) / "smi-metrics-api-certs")
    if converted.get("recording_rules", "auto") not in ("auto", "off"):
        raise ConfigError(f"--recording-rules {converted['recording_rules']!r}: use auto or off")
    if converted.get("log_level", "info") not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"--log-level {converted['log_level']!r}: use debug, info, warning or error")
    return Settings(**converted)


def _convert(key: str, value: Any, kind: Any) -> Any:
    flag = "--" + key.replace("_", "-")
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).lower() in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{flag}: {value!r} is not a boolean")
    if kind is tuple:   # repeatable: a list (flags, config file) or one value per line (environment)
        values = value.splitlines() if isinstance(value, str) else value
        if not isinstance(values, (list, tuple)):
            raise ConfigError(f"{flag}: {value!r} is not a list")
        return tuple(str(v).strip() for v in values if str(v).strip())
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(value)
        except ValueError:
            raise ConfigError(f"{flag} {value!r}: use {' or '.join(str(m.value) for m in kind)}") from None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{flag}: {value!r} is not a valid {kind.__name__}") from None


def _is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
