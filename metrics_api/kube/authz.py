"""Delegated authorization: a SubjectAccessReview per request, with the attributes kube-apiserver's
request-info parser gives the same request, so that our answer agrees with the cluster's RBAC.
Decisions (allowed and denied) are cached 10 s in an LRU bounded cache keyed by user + attributes;
identical concurrent reviews are coalesced."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson

from metrics_api.core.errors import ApiError
from metrics_api.core.model import Attributes
from metrics_api.core.singleflight import CoalescingCache
from metrics_api.kube.client import Kube, KubeError
from metrics_api.kube.identity import User

log = logging.getLogger("metrics_api.kube")

SUBJECTACCESSREVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
# As k8s.io/apiserver's delegated authorizer: members of system:masters need no review.
ALWAYS_ALLOW_GROUPS = frozenset({"system:masters"})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


class Authorizer:
    def __init__(self, kube: Kube, ttl: float = 10.0, max_entries: int = 8192) -> None:
        self._kube = kube
        self.cache: CoalescingCache[Decision] = CoalescingCache(ttl, max_entries)

    async def authorize(self, user: User, attributes: Attributes | None, path: str, verb: str = "get") -> None:
        """Returns when allowed; raises a 403 Status (or 500 when the cluster cannot answer). `verb` is that
        of a non-resource request (`attributes` None)."""
        if ALWAYS_ALLOW_GROUPS.intersection(user.groups):
            return
        spec = review_spec(user, attributes, path, verb)
        key = orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)
        try:
            decision = await self.cache.get(key, lambda: self._ask(spec))
        except KubeError as exc:
            raise ApiError(500, f"Internal error occurred: SubjectAccessReview failed: {exc}") from None
        if not decision.allowed:
            raise forbidden(user, attributes, path, decision.reason, verb)

    async def _ask(self, spec: dict) -> Decision:
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
        status = (await self._kube.create(SUBJECTACCESSREVIEWS, review)).get("status") or {}
        return Decision(bool(status.get("allowed")) and not status.get("denied"), status.get("reason") or "")


def review_spec(user: User, attributes: Attributes | None, path: str, verb: str = "get") -> dict:
    """A SubjectAccessReview spec as kube's webhook authorizer writes it (empty fields omitted)."""
    spec: dict = {"user": user.name, "groups": list(user.groups)}
    if user.uid:
        spec["uid"] = user.uid
    if user.extra:
        spec["extra"] = {key: list(values) for key, values in user.extra}
    if attributes is None:
        spec["nonResourceAttributes"] = {"path": path, "verb": verb}
    else:
        fields = {"namespace": attributes.namespace, "verb": attributes.verb, "group": attributes.group,
                  "version": attributes.version,
                  "resource": attributes.resource, "subresource": attributes.subresource, "name": attributes.name}
        spec["resourceAttributes"] = {key: value for key, value in fields.items() if value}
    return spec


def forbidden(user: User, attributes: Attributes | None, path: str, reason: str, verb: str = "get") -> ApiError:
    """Kubernetes' message, word for word (apiserver responsewriters.Forbidden + apimachinery NewForbidden)."""
    if attributes is None:
        message = f'forbidden: User "{user.name}" cannot {verb} path "{path}"'
        details: dict[str, str] = {}
    else:
        resource = attributes.resource + (f"/{attributes.subresource}" if attributes.subresource else "")
        scope = (f'in the namespace "{attributes.namespace}"' if attributes.namespace else "at the cluster scope")
        group = attributes.group
        why = (f'User "{user.name}" cannot {attributes.verb} resource "{resource}" in API group "{group}" {scope}')
        subject = f"{attributes.resource}.{group}" + (f' "{attributes.name}"' if attributes.name else "")
        message = f"{subject} is forbidden: {why}"
        details = {"group": group, "kind": attributes.resource}
        if attributes.name:
            details = {"name": attributes.name, **details}
    if reason:
        message += f": {reason}"
    return ApiError(403, message, details=details)
