"""How the server authenticates to its metrics store (Prometheus, Thanos, Mimir/Cortex, VictoriaMetrics):
extra headers (tenant IDs), a bearer token file or basic auth (secrets re-read when their file
changes, so a rotated Secret is picked up without a restart), and TLS trust and client certificates.
Everything is validated at start-up into one clear ConfigError line."""
from __future__ import annotations

import base64
import os
import ssl
from dataclasses import dataclass, field

from metrics_api.cli.config import ConfigError, Settings


class SecretFile:
    """A file's stripped content, re-read when its modification time or size changes."""

    def __init__(self, path: str, flag: str) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._value = ""
        try:
            self.value()
        except OSError as exc:
            raise ConfigError(f"{flag} {path}: cannot read: {exc.strerror}") from None
        if not self._value:
            raise ConfigError(f"{flag} {path}: the file is empty")

    def value(self) -> str:
        """The current content; the last good one if the file is briefly missing (a Secret update)."""
        try:
            stat = os.stat(self.path)
        except OSError:
            if self._stamp is None:
                raise
            return self._value
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            with open(self.path, encoding="utf-8") as handle:
                self._value = handle.read().strip()
            self._stamp = stamp
        return self._value


@dataclass
class StoreAccess:
    headers: dict[str, str] = field(default_factory=dict)
    token: SecretFile | None = None
    username: str | None = None
    password: SecretFile | None = None
    ssl_context: ssl.SSLContext | None = None

    def request_headers(self) -> dict[str, str]:
        """Headers for one request, with the secrets as they are in their files now."""
        headers = dict(self.headers)
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token.value()}"
        elif self.username is not None and self.password is not None:
            pair = f"{self.username}:{self.password.value()}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        return headers


def store_access(settings: Settings) -> StoreAccess:
    access = StoreAccess(headers=_headers(settings.prometheus_header))
    if settings.prometheus_bearer_token_file and settings.prometheus_username:
        raise ConfigError("--prometheus-bearer-token-file and --prometheus-username exclude each other")
    if settings.prometheus_bearer_token_file:
        access.token = SecretFile(settings.prometheus_bearer_token_file, "--prometheus-bearer-token-file")
    if bool(settings.prometheus_username) != bool(settings.prometheus_password_file):
        raise ConfigError("--prometheus-username and --prometheus-password-file go together")
    if settings.prometheus_username:
        access.username = settings.prometheus_username
        access.password = SecretFile(settings.prometheus_password_file, "--prometheus-password-file")
    if "authorization" in {name.lower() for name in access.headers} and (access.token or access.username):
        raise ConfigError("--prometheus-header Authorization conflicts with the store's token or basic auth")
    access.ssl_context = _ssl_context(settings)
    return access


def _headers(lines: tuple[str, ...]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not name or any(c in name for c in " \t()<>@,;\\\"/[]?={}") or not value:
            raise ConfigError(f"--prometheus-header {line!r}: expected 'Name: value', e.g. 'X-Scope-OrgID: team-a'")
        if "\r" in value or "\n" in value:
            raise ConfigError(f"--prometheus-header {name}: a value cannot span lines")
        headers[name] = value
    return headers


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    ca, cert, key = settings.prometheus_ca_file, settings.prometheus_cert_file, settings.prometheus_key_file
    if not (ca or cert or key):
        return None
    if bool(cert) != bool(key):
        raise ConfigError("--prometheus-cert-file and --prometheus-key-file go together")
    context = ssl.create_default_context()
    try:
        if ca:
            context.load_verify_locations(cafile=ca)
        if cert:
            context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        which = f"--prometheus-ca-file {ca}" if ca and not cert else "--prometheus-ca-file/--prometheus-cert-file"
        raise ConfigError(f"{which}: cannot load: {exc}") from None
    return context
