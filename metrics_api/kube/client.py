"""Kubernetes API access through kubernetes-asyncio (in-cluster config or a kubeconfig), as raw JSON:
we read a few fields of a few objects, so the generated models would only cost time."""
from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from kubernetes_asyncio import client, config

REQUEST_TIMEOUT = 10.0   # seconds, as k8s.io/apiserver's delegated authn/authz clients


class KubeError(Exception):
    """A failed Kubernetes API call: `status` is the HTTP code (0 when the API was unreachable); `reason` and
    `detail` are the answer's metav1.Status reason and message when it had them."""

    def __init__(self, status: int, message: str, reason: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.detail = detail


class Kube:
    def __init__(self, api_client: client.ApiClient) -> None:
        self._api = api_client

    @classmethod
    async def connect(cls, kubeconfig: str | None) -> Kube:
        configuration = client.Configuration()
        if kubeconfig:
            await config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        else:
            config.load_incluster_config(client_configuration=configuration)
        return cls(client.ApiClient(configuration=configuration))

    async def close(self) -> None:
        await self._api.close()

    async def get(self, path: str, accept: str = "application/json", **query: str) -> dict[str, Any]:
        return await self._call("GET", path, query=query, accept=accept)

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", path, body=body)

    async def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call("PATCH", path, body=body, content_type="application/merge-patch+json")

    async def _call(self, method: str, path: str, *, query: dict[str, str] | None = None,
                    body: dict[str, Any] | None = None, content_type: str = "application/json",
                    accept: str = "application/json") -> dict[str, Any]:
        headers = {"Accept": accept, "Content-Type": content_type}
        try:
            response = await self._api.call_api(
                path, method, query_params=list((query or {}).items()), header_params=headers,
                body=body, auth_settings=["BearerToken"],
                _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
            data = await response.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise KubeError(0, f"Kubernetes API unreachable: {type(exc).__name__}: {exc}") from exc
        try:
            document = orjson.loads(data) if data else {}
        except orjson.JSONDecodeError:
            document = {}
        if not 200 <= response.status <= 299:
            status = document if isinstance(document, dict) else {}
            message, reason = str(status.get("message") or ""), str(status.get("reason") or "")
            raise KubeError(response.status, f"{method} {path}: {response.status} {message or data[:200]!r}",
                            reason, message)
        if not isinstance(document, dict):
            raise KubeError(response.status, f"{method} {path}: the answer is not a JSON object")
        return document
