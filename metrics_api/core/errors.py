"""`metav1.Status` errors: every failure a client sees is one of these."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass
class ApiError(Exception):
    code: int
    message: str
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)
        if not self.reason:
            self.reason = _REASONS.get(self.code, "InternalError")

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details:
            body["details"] = self.details
        body["code"] = self.code
        return body

    def body(self) -> bytes:
        return orjson.dumps(self.status())


def bad_request(message: str, **details: Any) -> ApiError:
    return ApiError(400, message, details=details)


def not_found(message: str, **details: Any) -> ApiError:
    return ApiError(404, message, details=details)


def upstream_unavailable(message: str) -> ApiError:
    return ApiError(503, message, details={"retryAfterSeconds": 1}, headers={"Retry-After": "1"})


def upstream_timeout(message: str) -> ApiError:
    return ApiError(504, message, details={"retryAfterSeconds": 1}, headers={"Retry-After": "1"})


def internal(message: str) -> ApiError:
    return ApiError(500, message)
