"""The cluster's authentication settings for extension API servers: the ConfigMap
kube-system/extension-apiserver-authentication (written by kube-apiserver), re-read periodically
so a rotated CA or a changed name list applies without a restart."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from metrics_api.kube.client import Kube, KubeError

log = logging.getLogger("metrics_api.kube")

CONFIGMAP_PATH = "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication"


@dataclass(frozen=True)
class AuthConfig:
    client_cas: tuple[x509.Certificate, ...] = ()          # client-ca-file: x509 users (CN/O)
    requestheader_cas: tuple[x509.Certificate, ...] = ()   # requestheader-client-ca-file: the front proxy
    allowed_names: tuple[str, ...] = ()                    # allowed front-proxy CNs; empty = any
    username_headers: tuple[str, ...] = ()
    group_headers: tuple[str, ...] = ()
    extra_prefixes: tuple[str, ...] = ()
    uid_headers: tuple[str, ...] = ()

    def ca_pem(self) -> str:
        """Every CA a client certificate may come from, for the TLS handshake."""
        return "".join(ca.public_bytes(Encoding.PEM).decode() for ca in self.client_cas + self.requestheader_cas)


def parse_configmap(data: dict[str, str]) -> AuthConfig:
    """The ConfigMap's `data`. List values are JSON arrays stored as strings."""
    return AuthConfig(
        client_cas=_certificates(data, "client-ca-file"),
        requestheader_cas=_certificates(data, "requestheader-client-ca-file"),
        allowed_names=_strings(data, "requestheader-allowed-names"),
        username_headers=_strings(data, "requestheader-username-headers"),
        group_headers=_strings(data, "requestheader-group-headers"),
        extra_prefixes=_strings(data, "requestheader-extra-headers-prefix"),
        uid_headers=_strings(data, "requestheader-uid-headers"),
    )


def _certificates(data: dict[str, str], key: str) -> tuple[x509.Certificate, ...]:
    text = data.get(key, "").strip()
    if not text:
        return ()
    try:
        return tuple(x509.load_pem_x509_certificates(text.encode()))
    except ValueError as exc:
        raise ValueError(f"{key}: not a PEM certificate bundle: {exc}") from None


def _strings(data: dict[str, str], key: str) -> tuple[str, ...]:
    text = data.get(key, "").strip()
    if not text:
        return ()
    try:
        values = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ValueError(f"{key}: not a JSON array: {text[:100]!r}") from None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{key}: expected a JSON array of strings")
    return tuple(v for v in values if v)


class AuthConfigSource:
    """`current` is the last good configuration; `on_change` callbacks run with each new one."""

    def __init__(self, kube: Kube, refresh_seconds: float) -> None:
        self._kube = kube
        self._refresh = refresh_seconds
        self.current = AuthConfig()
        self.on_change: list[Callable[[AuthConfig], None]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Read once (a failure here is fatal: without it nobody can be authenticated), then keep re-reading."""
        self._apply(await self._read())
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _read(self) -> AuthConfig:
        configmap = await self._kube.get(CONFIGMAP_PATH)
        return parse_configmap(configmap.get("data") or {})

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._refresh)
            try:
                self._apply(await self._read())
            except (KubeError, ValueError) as exc:
                log.warning("keeping the previous authentication settings: %s", exc)

    def _apply(self, new: AuthConfig) -> None:
        if new == self.current:
            return
        self.current = new
        log.info("authentication settings loaded: %d client CA(s), %d front-proxy CA(s), allowed names %s",
                 len(new.client_cas), len(new.requestheader_cas), list(new.allowed_names) or "(any)")
        for callback in self.on_change:
            callback(new)
