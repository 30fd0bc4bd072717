"""Delegated authentication as k8s.io/apiserver's union authenticator for extension servers
(authenticatorfactory/delegating.go): the front proxy (X-Remote-* headers, trusted only with a client
certificate from the requestheader CA and an allowed CN), then a client certificate from client-ca-file
(CN = user, O = groups), then a bearer token (TokenReview). One that fails or does not apply hands the
request to the next (union.go); nothing valid → 401."""
from __future__ import annotations

import datetime
import logging
import ssl
import weakref
from collections.abc import Mapping
from urllib.parse import unquote

from aiohttp import web
from cryptography import x509
from cryptography.x509.oid import NameOID
from multidict import CIMultiDictProxy

from metrics_api.core.errors import ApiError
from metrics_api.kube.authconfig import AuthConfig, AuthConfigSource
from metrics_api.kube.client import KubeError
from metrics_api.kube.identity import User, extra_of
from metrics_api.kube.tokens import TokenReviewer, TooManyReviews
from metrics_api.kube.x509verify import ChainVerifier

log = logging.getLogger("metrics_api.kube")
RETRY_AFTER_SECONDS = 1


def unauthorized() -> ApiError:
    # Kubernetes says no more than this; the reason is logged at debug level.
    return ApiError(401, "Unauthorized")


class Authenticator:
    def __init__(self, config: AuthConfigSource, tokens: TokenReviewer) -> None:
        self._config = config
        self._tokens = tokens
        self._verifiers: tuple[AuthConfig, ChainVerifier, ChainVerifier] | None = None
        self._chains: weakref.WeakKeyDictionary[ssl.SSLObject, tuple[bytes, ...]] = weakref.WeakKeyDictionary()

    async def authenticate(self, request: web.Request) -> User:
        chain = self._peer_chain(request)
        if chain:
            config, front_proxy, client_ca = self._current_verifiers()
            now = datetime.datetime.now(datetime.timezone.utc)
            user = _front_proxy_user(front_proxy.verify(chain, now).leaf_if_accepted, request.headers, config)
            if user is None:
                user = _client_certificate_user(client_ca.verify(chain, now).leaf_if_accepted)
            if user is not None:
                return user.authenticated()
        token = bearer_token(request.headers)
        if token:
            try:
                user = await self._tokens.review(token)
            except TooManyReviews as exc:
                raise ApiError(429, f"too many requests waiting for authentication ({exc}), please try again later",
                               details={"retryAfterSeconds": RETRY_AFTER_SECONDS},
                               headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from None
            except KubeError as exc:
                log.warning("401: TokenReview failed: %s", exc)
                raise unauthorized() from None
            if user is not None:
                return user.authenticated()
            log.debug("401: the token is not valid")
        raise unauthorized()

    def _current_verifiers(self) -> tuple[AuthConfig, ChainVerifier, ChainVerifier]:
        """Verifiers (and their remembered verdicts) for the authentication settings in force."""
        config = self._config.current
        if self._verifiers is None or self._verifiers[0] is not config:
            self._verifiers = (config, ChainVerifier(config.requestheader_cas), ChainVerifier(config.client_cas))
        return self._verifiers

    def _peer_chain(self, request: web.Request) -> tuple[bytes, ...]:
        """The certificates the client sent, leaf first (DER), read once per connection: kube passes them
        all to Verify, the rest as intermediates (request/x509/x509.go AuthenticateRequest)."""
        transport = request.transport
        connection = transport.get_extra_info("ssl_object") if transport is not None else None
        if connection is None:
            return ()
        chain = self._chains.get(connection)
        if chain is None:
            # Public as SSLObject.get_unverified_chain from Python 3.13; the same method on the C object before.
            certificates = (connection._sslobj.get_unverified_chain() or []) if connection.getpeercert(True) else []
            chain = tuple(c.public_bytes(ssl._ssl.ENCODING_DER) for c in certificates)
            self._chains[connection] = chain
        return chain


def _front_proxy_user(certificate: x509.Certificate | None, headers: CIMultiDictProxy[str],
                      config: AuthConfig) -> User | None:
    """request/x509 Verifier + headerrequest: the certificate must be allowed, and a user header present."""
    if certificate is None:
        return None
    cn = common_name(certificate)
    if config.allowed_names and cn not in config.allowed_names:
        log.debug("front-proxy certificate CN %r is not in requestheader-allowed-names: trying the others", cn)
        return None
    return from_headers(headers, config)


def _client_certificate_user(certificate: x509.Certificate | None) -> User | None:
    """request/x509 CommonNameUserConversion: no CN, no user."""
    if certificate is None:
        return None
    name = common_name(certificate)
    return User(name, groups=tuple(organizations(certificate))) if name else None


def common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def organizations(certificate: x509.Certificate) -> list[str]:
    return [str(a.value) for a in certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]


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
