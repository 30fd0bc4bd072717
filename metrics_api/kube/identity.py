"""Who is asking: the user an authenticator found, as SubjectAccessReview needs it."""
from __future__ import annotations

from dataclasses import dataclass, replace

AUTHENTICATED = "system:authenticated"


@dataclass(frozen=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()   # sorted (key, values): hashable, for cache keys

    def authenticated(self) -> User:
        """Every authenticated user is in system:authenticated (kube's AuthenticatedGroupAdder), so that
        e.g. system:discovery, bound to that group, applies to callers that name no groups."""
        if AUTHENTICATED in self.groups:
            return self
        return replace(self, groups=self.groups + (AUTHENTICATED,))


def extra_of(values: dict[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(sorted((key, tuple(items)) for key, items in values.items()))
