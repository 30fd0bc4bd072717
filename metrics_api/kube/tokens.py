"""Bearer tokens, checked with a TokenReview. Answers (valid or not) are cached 10 s under an HMAC of
the token, never the token itself; concurrent reviews of one token are coalesced into one call, and at
most `max_pending` distinct tokens are under review at once: a flood of made-up tokens while the
cluster answers slowly is refused at once (429) instead of piling up connections and TokenReviews.
Requests that need no review (certificates, cached tokens) never wait behind them."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from metrics_api.core.singleflight import CoalescingCache
from metrics_api.kube.client import Kube
from metrics_api.kube.identity import User, extra_of

TOKENREVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
MAX_PENDING_REVIEWS = 64


class TooManyReviews(Exception):
    """More distinct tokens are under review than allowed."""


class TokenReviewer:
    def __init__(self, kube: Kube, ttl: float = 10.0, max_pending: int = MAX_PENDING_REVIEWS) -> None:
        self._kube = kube
        self._key = secrets.token_bytes(32)   # per process: cache keys mean nothing outside it
        self.cache: CoalescingCache[User | None] = CoalescingCache(ttl)
        self.max_pending = max_pending
        self.pending = 0

    async def review(self, token: str) -> User | None:
        """The token's user, or None when the cluster says it is not valid. KubeError when it cannot say,
        TooManyReviews when max_pending other tokens are being reviewed."""
        key = hmac.new(self._key, token.encode(), hashlib.sha256).digest()
        return await self.cache.get(key, lambda: self._bounded(token))

    async def _bounded(self, token: str) -> User | None:
        # Runs once per review actually sent (coalesced callers share it); the refusal is not cached.
        if self.pending >= self.max_pending:
            raise TooManyReviews(f"{self.pending} token reviews pending")
        self.pending += 1
        try:
            return await self._ask(token)
        finally:
            self.pending -= 1

    async def _ask(self, token: str) -> User | None:
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        status = (await self._kube.create(TOKENREVIEWS, review)).get("status") or {}
        user = status.get("user") or {}
        if not status.get("authenticated") or not user.get("username"):
            return None
        return User(name=user["username"], uid=user.get("uid", ""), groups=tuple(user.get("groups") or ()),
                    extra=extra_of(user.get("extra") or {}))
