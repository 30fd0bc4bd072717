"""Delegated authentication, in kube's order: the front proxy (X-Remote-* headers, trusted only with
a client certificate from the requestheader CA and an allowed CN), then a client certificate from
client-ca-file (CN = user, O = groups), then a bearer token (TokenReview). Nothing valid → 401."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import unquote

from aiohttp import web
from cryptography import x509
from multidict import CIMultiDictProxy

from metrics_api.core.errors import ApiError
from metrics_api.kube.authconfig import AuthConfig, AuthConfigSource
from metrics_api.kube.client import KubeError
from metrics_api.kube.identity import User, extra_of
from metrics_api.kube.tokens import TokenReviewer
from metrics_api.kube.x509auth import common_name, organizations, verified_by

log = logging.getLogger("metrics_api.kube")


def unauthorized() -> ApiError:
    # Kubernetes says no more than this; the reason is logged at debug level.
    return ApiError(401, "Unauthorized")


class Authenticator:
    def __init__(self, config: AuthConfigSource, tokens: TokenReviewer) -> None:
        self._config = config
        self._tokens = tokens

    async def authenticate(self, request: web.Request) -> User:
        config = self._config.current
        certificate = peer_certificate(request)
        if certificate is not None:
            if verified_by(certificate, config.requestheader_cas):
                cn = common_name(certificate)
                if config.allowed_names and cn not in config.allowed_names:
                    log.debug("401: front-proxy certificate CN %r is not in requestheader-allowed-names", cn)
                    raise unauthorized()
                user = from_headers(request.headers, config)
                if user is not None:
                    return user.authenticated()
            elif verified_by(certificate, config.client_cas):
                return User(common_name(certificate), groups=tuple(organizations(certificate))).authenticated()
        token = bearer_token(request.headers)
        if token:
            try:
                user = await self._tokens.review(token)
            except KubeError as exc:
                log.warning("401: TokenReview failed: %s", exc)
                raise unauthorized() from None
            if user is not None:
                return user.authenticated()
            log.debug("401: the token is not valid")
        raise unauthorized()


def peer_certificate(request: web.Request) -> x509.Certificate | None:
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return x509.load_der_x509_certificate(der) if der else None


def bearer_token(headers: Mapping[str, str]) -> str:
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def from_headers(headers: CIMultiDictProxy[str], config: AuthConfig) -> User | None:
    """The front proxy's user, parsed as kube's requestheader authenticator does; None without a user header."""
    name = _first(headers, config.username_headers)
    if not name:
        return None
    groups = tuple(v for header in config.group_headers for v in headers.getall(header, ()) if v)
    extra: dict[str, list[str]] = {}
    prefixes = tuple(p.lower() for p in config.extra_prefixes)
    for header, value in headers.items():
        for prefix in prefixes:
            if header.lower().startswith(prefix):
                # Header names carry no case, so keys are lower-cased; the proxy percent-encodes them
                # (`authentication.kubernetes.io%2fpod-name`).
                extra.setdefault(unquote(header[len(prefix):].lower()), []).append(value)
                break
    return User(name, uid=_first(headers, config.uid_headers), groups=groups, extra=extra_of(extra))


def _first(headers: CIMultiDictProxy[str], names: tuple[str, ...]) -> str:
    for header in names:
        value = headers.get(header, "").strip()
        if value:
            return value
    return ""
