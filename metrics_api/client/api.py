"""The Traffic Metrics API as a user reaches it: through their kubeconfig (kube-apiserver and its aggregation
layer, their own credentials, so RBAC applies) or the kubeconfig of a `--local` server."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.config.config_exception import ConfigException

from metrics_api.apis.smi import API_PREFIX
from metrics_api.client.samples import Sample, parse_item, parse_table
from metrics_api.core.kinds import BY_NAME, Kind
from metrics_api.core.model import Ref
from metrics_api.kube.client import Kube, KubeError

# A Table with the full objects first (the server's own cells), plain JSON from servers without Tables.
ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io, application/json"
DEFAULT_NAMESPACE = "default"   # kubectl's, when the context names none
EDGE_CONCURRENCY = 8            # edge lists fetched at once for a graph: bounded load on the API


class ClientError(Exception):
    """A failure shown to the user as one line (kubectl's wording where kubectl has one)."""


@dataclass(frozen=True)
class Scope:
    """Which namespace(s) a command reads: `namespace` None means every namespace (-A)."""
    namespace: str | None

    @property
    def all(self) -> bool:
        return self.namespace is None


class TrafficApi:
    def __init__(self, kube: Kube, server: str, context_namespace: str) -> None:
        self._kube = kube
        self.server = server
        self.context_namespace = context_namespace

    @classmethod
    async def open(cls, kubeconfig: str | None, context: str | None) -> TrafficApi:
        """`kubeconfig` None: $KUBECONFIG (a list of files, merged) or ~/.kube/config, as kubectl reads them."""
        configuration = client.Configuration()
        try:
            loader = await config.load_kube_config(config_file=kubeconfig, context=context,
                                                   client_configuration=configuration, persist_config=False)
        except (ConfigException, OSError, ValueError, KeyError, TypeError) as exc:
            raise ClientError(f"error: cannot use the kubeconfig {kubeconfig or '(default)'}: {exc}") from exc
        current = loader.current_context or {}
        namespace = (current.get("context") or {}).get("namespace") or DEFAULT_NAMESPACE
        return cls(Kube(client.ApiClient(configuration=configuration)), configuration.host, namespace)

    async def close(self) -> None:
        await self._kube.close()

    async def list(self, kind: Kind | str, scope: Scope, window: str, selector: str | None = None) -> list[Sample]:
        """Every resource of a plural (a Kind, or `trafficmetrics`: every workload) in the scope."""
        plural = kind.plural if isinstance(kind, Kind) else kind
        if isinstance(kind, Kind) and not kind.namespaced or scope.all:
            path = f"{API_PREFIX}/{plural}"
        else:
            path = f"{API_PREFIX}/namespaces/{scope.namespace}/{plural}"
        query = {"t": window, "includeObject": "Object", **({"labelSelector": selector} if selector else {})}
        return self._items(await self._get(path, query))

    async def edges(self, kind: Kind, namespace: str | None, name: str, window: str) -> list[Sample]:
        if kind.namespaced:
            path = f"{API_PREFIX}/namespaces/{namespace}/{kind.plural}/{name}/edges"
        else:
            path = f"{API_PREFIX}/{kind.plural}/{name}/edges"
        return self._items(await self._get(path, {"t": window, "includeObject": "Object"}))

    async def edges_of_all(self, resources: list[Sample], window: str) -> list[Sample]:
        """The edges of every resource, fetched a few at a time."""
        gate = asyncio.Semaphore(EDGE_CONCURRENCY)

        async def one(sample: Sample) -> list[Sample]:
            async with gate:
                return await self.edges(kind_of(sample.resource), sample.resource.namespace,
                                        sample.resource.name, window)

        found = await asyncio.gather(*(one(sample) for sample in resources))
        return [edge for edges in found for edge in edges]

    async def _get(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        try:
            return await self._kube.get(path, ACCEPT, **query)
        except KubeError as exc:
            raise ClientError(self._describe(exc)) from exc

    def _describe(self, exc: KubeError) -> str:
        if exc.status == 0:
            return f"error: Unable to connect to the server {self.server}: {exc.__cause__ or exc}"
        if exc.status == 401:
            return "error: You must be logged in to the server (Unauthorized)"
        if exc.status == 404 and not exc.reason:
            # kube-apiserver's own 404 (no metav1.Status from us): the API group is not served there.
            return (f"error: the server doesn't have the {API_PREFIX.removeprefix('/apis/')} API "
                    "(is smi-metrics-api installed and its APIService available?)")
        return f"Error from server ({exc.reason or exc.status}): {exc.detail or exc}"

    @staticmethod
    def _items(document: dict[str, Any]) -> list[Sample]:
        kind = document.get("kind")
        if kind not in ("Table", "TrafficMetricsList"):
            raise ClientError(f"error: expected a TrafficMetricsList, got {str(kind)!r}")
        try:
            if kind == "Table":
                return parse_table(document)
            return [parse_item(item) for item in document["items"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ClientError(f"error: unexpected TrafficMetrics from the server: {exc!r}") from exc


def kind_of(resource: Ref) -> Kind:
    kind = BY_NAME.get(resource.kind)
    if kind is None:
        raise ClientError(f"error: the server named a resource of unknown kind {resource.kind!r}")
    return kind
