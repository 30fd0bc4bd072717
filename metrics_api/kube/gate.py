"""The server's Gate in cluster mode: authentication (who), then authorization (may they), the two
steps k8s.io/apiserver runs first, with admission between them (server/config.go DefaultBuildHandlerChain:
WithAuthentication, then WithMaxInFlightLimit / priority and fairness, then WithAuthorization)."""
from __future__ import annotations

from aiohttp import web

from metrics_api.core.model import Attributes
from metrics_api.kube.authn import Authenticator
from metrics_api.kube.authz import Authorizer
from metrics_api.kube.identity import User


class KubeGate:
    def __init__(self, authenticator: Authenticator, authorizer: Authorizer) -> None:
        self.authenticator = authenticator
        self.authorizer = authorizer

    async def authenticate(self, request: web.Request) -> User:
        return await self.authenticator.authenticate(request)

    async def authorize(self, user: User, attributes: Attributes | None, request: web.Request) -> None:
        """`attributes` None: a non-resource request (discovery, /openapi, /metrics), authorized by path and
        the lower-cased method, as kube's RequestInfo gives them."""
        await self.authorizer.authorize(user, attributes, request.path, request.method.lower())
