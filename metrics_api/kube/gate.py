"""The server's Gate in cluster mode: authenticate, then authorize, before anything is fetched."""
from __future__ import annotations

from aiohttp import web

from metrics_api.core.model import Attributes
from metrics_api.kube.authn import Authenticator
from metrics_api.kube.authz import Authorizer


class KubeGate:
    def __init__(self, authenticator: Authenticator, authorizer: Authorizer) -> None:
        self.authenticator = authenticator
        self.authorizer = authorizer

    async def __call__(self, request: web.Request, attributes: Attributes | None) -> None:
        """`attributes` None: a non-resource request (discovery, /openapi, /metrics), authorized by path."""
        user = await self.authenticator.authenticate(request)
        await self.authorizer.authorize(user, attributes, request.path)
