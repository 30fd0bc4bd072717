"""--local mode for meshes whose series name workloads without their kind (Istio, Kuma): the kind is read
from the names of the pods that report for the workload, so that each workload is served under one kind.

The rule (docs/meshes.md, "Workload kinds without Kubernetes"):
- `<workload>-<hash>-<5 chars>` is a Deployment's pod: the deployment controller names its ReplicaSet
  `<deployment>-<pod-template-hash>` (kubernetes pkg/controller/deployment/sync.go getNewReplicaSet,
  hash from controller.ComputeHash via rand.SafeEncodeString) and the ReplicaSet's pods get 5 random
  characters (apiserver pkg/storage/names/generate.go, randomLength = 5), both from the alphabet of
  apimachinery pkg/util/rand (`bcdfghjklmnpqrstvwxz2456789`);
- `<workload>-<ordinal>` is a StatefulSet's pod (pkg/controller/statefulset/stateful_set_utils.go getPodName);
- anything else (`<name>-<5 chars>` is a DaemonSet's, a Job's or a bare ReplicaSet's alike, and pod
  names that do not start with the workload's name) tells nothing: the pack's `default` kind."""
from __future__ import annotations

import re
from collections.abc import Sequence

from metrics_api.packs.model import WorkloadPods
from metrics_api.pipeline.kinds import KindTable
from metrics_api.store.prometheus import Series

SAFE = "bcdfghjklmnpqrstvwxz2456789"
DEPLOYMENT_POD = re.compile(rf"[{SAFE}]{{1,10}}-[{SAFE}]{{5}}")
STATEFULSET_POD = re.compile(r"0|[1-9][0-9]*")


def kind_of_pod(workload: str, pod: str) -> str | None:
    """The workload kind `pod`'s name shows, or None."""
    if not pod.startswith(f"{workload}-"):
        return None
    rest = pod[len(workload) + 1:]
    if DEPLOYMENT_POD.fullmatch(rest):
        return "Deployment"
    if STATEFULSET_POD.fullmatch(rest):
        return "StatefulSet"
    return None


def kinds_from_pods(declarations: tuple[WorkloadPods, ...], results: list[Sequence[Series]]) -> KindTable:
    """Each workload's kind: the one its pods' names agree on, else the declaration's default."""
    seen: dict[tuple[str, str], set[str | None]] = {}
    defaults: dict[tuple[str, str], str] = {}
    for declaration, series in zip(declarations, results):
        for item in series:
            labels = item["metric"]
            namespace = labels.get(declaration.self.namespace or "", "")
            name, pod = labels.get(declaration.self.name, ""), labels.get(declaration.pod, "")
            if namespace and name and pod:
                seen.setdefault((namespace, name), set()).add(kind_of_pod(name, pod))
                defaults.setdefault((namespace, name), declaration.default)
    kinds: KindTable = {}
    for key, shown in seen.items():
        kinds[key] = [shown.pop()] if len(shown) == 1 and None not in shown else [defaults[key]]
    return kinds
