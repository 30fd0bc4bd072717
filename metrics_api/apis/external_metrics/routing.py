"""external.metrics.k8s.io paths → a Target for the one pipeline. The object is named by the label
selector (k8s.io/metrics external_metrics client: `namespaces/{ns}/{metric}?labelSelector=…`), which never
reaches PromQL: it is read into one object name, validated, and measured like any SMI get.

    deployment=web | statefulset= | daemonset= | job= | pod= | service=   (none: the namespace itself)
    window=<Go duration>                                                   (default 1m)
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from metrics_api.apis import metric_values
from metrics_api.apis.api import Route
from metrics_api.apis.external_metrics import API_PREFIX, GROUP
from metrics_api.apis.metric_values import Metric
from metrics_api.core.errors import bad_request, not_found
from metrics_api.core.kinds import BY_PLURAL, Kind, name_problem
from metrics_api.core.model import Target
from metrics_api.packs.model import Pack

SELECTOR = "labelSelector"
# Selector key → the kind it names.
OBJECT_LABELS: dict[str, Kind] = {
    "deployment": BY_PLURAL["deployments"], "statefulset": BY_PLURAL["statefulsets"],
    "daemonset": BY_PLURAL["daemonsets"], "job": BY_PLURAL["jobs"], "pod": BY_PLURAL["pods"],
    "service": BY_PLURAL["services"],
}


@dataclass(frozen=True)
class View:
    metric: Metric
    labels: tuple[tuple[str, str], ...]   # echoed as `metricLabels`


def route(pack: Pack, path: str, query: Mapping[str, str]) -> Route:
    match path[len(API_PREFIX):].strip("/").split("/"):
        case ["namespaces", namespace, metric_name]:
            pass
        case _:
            raise not_found("the server could not find the requested resource")
    metric_values.check_namespace(namespace)
    metric = metric_values.metric_named(metric_name, GROUP, metric_name)
    text = query.get(SELECTOR)
    labels = metric_values.selector_labels(text, SELECTOR) if text else {}
    objects = [key for key in labels if key in OBJECT_LABELS]
    unknown = sorted(set(labels) - set(OBJECT_LABELS) - {metric_values.WINDOW_LABEL})
    if unknown or len(objects) > 1:
        raise bad_request(f"{SELECTOR}={text!r}: name at most one object with one of "
                          f"{', '.join(OBJECT_LABELS)}, plus optionally window=<Go duration>")
    window = metric_values.window_of(labels, SELECTOR)
    if objects:
        kind, name = OBJECT_LABELS[objects[0]], labels[objects[0]]
        if not pack.support(kind.plural):
            raise not_found(f"{objects[0]}: {kind.plural} are not served by the {pack.name} query pack",
                            group=GROUP, kind=metric_name)
        if problem := name_problem(kind, name):
            raise bad_request(f"{SELECTOR}: invalid {objects[0]} name {name!r}: {problem}", name=name, kind=kind.plural)
        target = Target(kind.plural, (kind,), namespace, name, False, window, None, metric_values.object_group(kind))
    else:
        namespaces = BY_PLURAL["namespaces"]
        if not pack.support(namespaces.plural):
            raise not_found(f"namespaces are not served by the {pack.name} query pack", group=GROUP, kind=metric_name)
        target = Target(namespaces.plural, (namespaces,), None, namespace, False, window, None, "")
    return Route(target, f"{API_PREFIX}/namespaces/{{namespace}}/{metric}", View(metric, tuple(sorted(labels.items()))))
