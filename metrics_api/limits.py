"""Admission: at most N API requests in flight; the excess is refused at once with 429 and Retry-After,
as kube-apiserver's max-in-flight filter does (client-go retries such answers by itself)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import ApiError

RETRY_AFTER_SECONDS = 1


class InFlightLimit:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.current = 0

    @contextmanager
    def admit(self) -> Iterator[None]:
        if self.current >= self.limit:
            raise ApiError(429, f"too many requests in flight (limit {self.limit}), please try again later",
                           details={"retryAfterSeconds": RETRY_AFTER_SECONDS},
                           headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        self.current += 1
        try:
            yield
        finally:
            self.current -= 1
