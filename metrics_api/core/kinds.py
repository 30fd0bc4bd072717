"""The one naming module: SMI plurals, Kubernetes kind spellings, singular names and name rules."""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    plural: str        # URL segment: "deployments"
    name: str          # Kubernetes spelling: "Deployment"
    singular: str      # discovery singularName: "deployment"
    namespaced: bool
    workload: bool     # listed by the `trafficmetrics` resource


# Order matters: `trafficmetrics/<name>` resolves a name shared by several kinds in this order.
KINDS: tuple[Kind, ...] = (
    Kind("deployments", "Deployment", "deployment", True, True),
    Kind("statefulsets", "StatefulSet", "statefulset", True, True),
    Kind("daemonsets", "DaemonSet", "daemonset", True, True),
    Kind("jobs", "Job", "job", True, True),
    Kind("replicasets", "ReplicaSet", "replicaset", True, False),
    Kind("pods", "Pod", "pod", True, False),
    Kind("services", "Service", "service", True, False),
    Kind("namespaces", "Namespace", "namespace", False, False),
)
# Traffic splits (metrics.smi-spec.io v1alpha2 only): measured per backend, not served by packs' `kinds`.
TRAFFICSPLIT = Kind("trafficsplits", "TrafficSplit", "trafficsplit", True, False)
HTTPROUTE = Kind("httproutes", "HTTPRoute", "httproute", True, False)
SPLIT_KINDS: tuple[Kind, ...] = (TRAFFICSPLIT, HTTPROUTE)
BY_PLURAL: dict[str, Kind] = {k.plural: k for k in KINDS}
BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS + SPLIT_KINDS}
WORKLOAD_KINDS: tuple[Kind, ...] = tuple(k for k in KINDS if k.workload)

# The namespaced resource that lists every workload of a namespace, whatever its kind.
TRAFFICMETRICS = "trafficmetrics"

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def is_dns1123_label(value: str) -> bool:
    return len(value) <= 63 and _DNS1123_LABEL.fullmatch(value) is not None


def is_dns1123_subdomain(value: str) -> bool:
    return len(value) <= 253 and _DNS1123_SUBDOMAIN.fullmatch(value) is not None


def name_problem(kind: Kind | None, value: str) -> str | None:
    """Why `value` is not a valid object name for `kind` (None when it is).

    Namespaces and Services are DNS-1123 labels; every other kind is a DNS-1123 subdomain,
    as kube-apiserver validates them. `kind=None` means a name that may belong to any workload kind.
    """
    if kind is not None and kind.plural in ("namespaces", "services"):
        if not is_dns1123_label(value):
            return ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                    "and must start and end with an alphanumeric character (at most 63 characters)")
        return None
    if not is_dns1123_subdomain(value):
        return ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                "and must start and end with an alphanumeric character (at most 253 characters)")
    return None
