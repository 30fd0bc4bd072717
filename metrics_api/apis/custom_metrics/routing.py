"""custom.metrics.k8s.io paths → a Target for the one pipeline, the attributes kube-apiserver's
request-info parser gives the same path (k8s.io/apiserver pkg/endpoints/request/requestinfo.go), and
what the renderer needs. Every name is validated before anything is queried.

    <prefix>/namespaces/{ns}/{resource}/{name}/{metric}     one object (HPA `Object` metrics)
    <prefix>/namespaces/{ns}/{resource}/*/{metric}          every object, `labelSelector` (HPA `Pods`)
    <prefix>/namespaces/{ns}/metrics/{metric}               the Namespace itself
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from metrics_api.apis import metric_values
from metrics_api.apis.api import Route
from metrics_api.apis.custom_metrics import GROUP
from metrics_api.apis.metric_values import Metric
from metrics_api.core.errors import bad_request, not_found
from metrics_api.core.kinds import BY_PLURAL, Kind, name_problem
from metrics_api.core.model import Target
from metrics_api.packs.model import Pack

ALL_OBJECTS = "*"   # k8s.io/metrics custom_metrics AllObjects
METRIC_SELECTOR = "metricLabelSelector"
NAMESPACE_METRICS = "metrics"   # `namespaces/{ns}/metrics/{metric}`: kube-apiserver sees resource "metrics"

# The group-qualified resources HPA's client sends (its RESTMapper's GroupResource.String()) → our kinds.
RESOURCES: dict[str, Kind] = {
    "deployments.apps": BY_PLURAL["deployments"], "statefulsets.apps": BY_PLURAL["statefulsets"],
    "daemonsets.apps": BY_PLURAL["daemonsets"], "replicasets.apps": BY_PLURAL["replicasets"],
    "jobs.batch": BY_PLURAL["jobs"], "pods": BY_PLURAL["pods"], "services": BY_PLURAL["services"],
}


@dataclass(frozen=True)
class View:
    """What the custom-metrics renderer needs beyond the Answer."""
    version: str
    metric: Metric
    selector: tuple[tuple[str, str], ...]   # the metric selector's labels, echoed in `metric.selector`


def served_resources(pack: Pack) -> list[str]:
    return [resource for resource, kind in RESOURCES.items() if pack.support(kind.plural)]


def route(pack: Pack, prefix: str, version: str, path: str, query: Mapping[str, str]) -> Route:
    segments = path[len(prefix):].strip("/").split("/")
    match segments:
        case ["namespaces", namespace, "metrics", metric]:
            return _namespace_route(pack, prefix, version, namespace, metric, query)
        case ["namespaces", namespace, resource, name, metric]:
            return _object_route(pack, prefix, version, namespace, resource, name, metric, query)
    raise not_found("the server could not find the requested resource")


def _object_route(pack: Pack, prefix: str, version: str, namespace: str, resource: str, name: str, metric_name: str,
                  query: Mapping[str, str]) -> Route:
    metric_values.check_namespace(namespace)
    kind = RESOURCES.get(resource)
    if kind is None or not pack.support(kind.plural):
        hint = kind_hint(resource)
        qualified = f" (HPA names it group-qualified: {hint})" if hint else ""
        raise not_found(f"the server could not find the requested resource: {resource!r} is not served{qualified}",
                        group=GROUP, kind=resource)
    if name != ALL_OBJECTS and (problem := name_problem(kind, name)):
        raise bad_request(f"invalid {resource} name {name!r}: {problem}", name=name, kind=resource)
    metric = metric_values.metric_named(metric_name, GROUP, resource)
    window, selector = _metric_selector(query)
    label_selector = query.get("labelSelector") or None
    if label_selector is not None and name != ALL_OBJECTS:
        raise bad_request("labelSelector applies to `*` (every object) only")
    target = Target(kind.plural, (kind,), namespace, None if name == ALL_OBJECTS else name, False, window,
                    label_selector, metric_values.object_group(kind))
    template = f"{prefix}/namespaces/{{namespace}}/{resource}/{'*' if name == ALL_OBJECTS else '{name}'}/{metric}"
    return Route(target, template, View(version, metric, selector))


def _namespace_route(pack: Pack, prefix: str, version: str, namespace: str, metric_name: str,
                     query: Mapping[str, str]) -> Route:
    metric_values.check_namespace(namespace)
    kind = BY_PLURAL["namespaces"]
    if not pack.support(kind.plural):
        raise not_found("the server could not find the requested resource: namespaces are not served",
                        group=GROUP, kind="namespaces")
    metric = metric_values.metric_named(metric_name, GROUP, "namespaces")
    window, selector = _metric_selector(query)
    if query.get("labelSelector"):
        raise bad_request("labelSelector applies to `*` (every object) only")
    target = Target(kind.plural, (kind,), None, namespace, False, window, None, "")
    return Route(target, f"{prefix}/namespaces/{{namespace}}/metrics/{metric}", View(version, metric, selector))


def _metric_selector(query: Mapping[str, str]) -> tuple[float, tuple[tuple[str, str], ...]]:
    """The window the metric selector asks for, and its labels. It may only choose the window: any other
    requirement would otherwise be silently ignored."""
    text = query.get(METRIC_SELECTOR)
    labels = metric_values.selector_labels(text, METRIC_SELECTOR) if text else {}
    extra = sorted(set(labels) - {metric_values.WINDOW_LABEL})
    if extra:
        raise bad_request(f"{METRIC_SELECTOR}: unsupported requirement(s) on {', '.join(extra)}: only "
                          "window=<Go duration> is understood")
    return metric_values.window_of(labels, METRIC_SELECTOR), tuple(sorted(labels.items()))


def kind_hint(resource: str) -> str:
    """The qualified spelling of an unqualified resource (`deployments` → `deployments.apps`), or ''."""
    return next((qualified for qualified in RESOURCES if qualified.split(".")[0] == resource != qualified), "")
