"""Route, parse and validate: an API path and its query string → a Target, or a Status error."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from metrics_api.apis.smi import API_PREFIX, GROUP, VERSION
from metrics_api.core.errors import bad_request, not_found
from metrics_api.core.kinds import (
    BY_PLURAL,
    TRAFFICMETRICS,
    WORKLOAD_KINDS,
    Kind,
    is_dns1123_label,
    name_problem,
)
from metrics_api.core.model import Attributes, Target
from metrics_api.core.window import parse_window
from metrics_api.packs.model import Pack

DEFAULT_WINDOW = 30.0


@dataclass(frozen=True)
class ParsedRequest:
    target: Target
    attributes: Attributes
    path_template: str      # low-cardinality path for our own metrics


def parse(pack: Pack, path: str, query: Mapping[str, str]) -> ParsedRequest:
    """`path` starts with API_PREFIX and is not the prefix itself."""
    segments = path[len(API_PREFIX):].strip("/").split("/")
    window = _window(query.get("t"))
    selector = query.get("labelSelector") or None
    match segments:
        # kube-apiserver reads `namespaces/foo` as resource namespaces, namespace foo, name foo, and
        # `namespaces/foo/edges` as resource `edges` in namespace foo (list): authorize it the same way.
        case ["namespaces", namespace]:
            parsed = _build(pack, "namespaces", None, namespace, False, window, selector, "/namespaces/{name}")
            return replace(parsed, attributes=replace(parsed.attributes, namespace=namespace))
        case ["namespaces", namespace, "edges"]:
            parsed = _build(pack, "namespaces", None, namespace, True, window, selector, "/namespaces/{name}/edges")
            return replace(parsed, attributes=Attributes("list", "edges", "", namespace, "", GROUP, VERSION))
        case ["namespaces", namespace, plural]:
            return _build(pack, plural, namespace, None, False, window, selector, "/namespaces/{namespace}/{plural}")
        case ["namespaces", namespace, plural, name]:
            return _build(pack, plural, namespace, name, False, window, selector,
                          "/namespaces/{namespace}/{plural}/{name}")
        case ["namespaces", namespace, plural, name, "edges"]:
            return _build(pack, plural, namespace, name, True, window, selector,
                          "/namespaces/{namespace}/{plural}/{name}/edges")
        case [plural]:
            return _build(pack, plural, None, None, False, window, selector, "/{plural}")
    raise not_found("the server could not find the requested resource")


def _build(pack: Pack, plural: str, namespace: str | None, name: str | None, edges: bool,
           window: float, selector: str | None, template: str) -> ParsedRequest:
    kinds = _kinds(pack, plural)
    if namespace is not None:
        if not kinds[0].namespaced:
            raise not_found("the server could not find the requested resource")
        if not is_dns1123_label(namespace):
            raise bad_request(f"invalid namespace {namespace!r}: a lowercase RFC 1123 label must consist of "
                              "lower case alphanumeric characters or '-', and must start and end with an "
                              "alphanumeric character (at most 63 characters)", name=namespace, kind="namespaces")
    if name is not None:
        problem = name_problem(kinds[0] if plural != TRAFFICMETRICS else None, name)
        if problem:
            raise bad_request(f"invalid {plural} name {name!r}: {problem}", name=name, group=GROUP, kind=plural)
    if edges and not any(pack.support(k.plural) and pack.support(k.plural).edges for k in kinds):
        raise not_found(f"the {pack.name} query pack cannot observe edges of {plural}",
                        name=name or "", group=GROUP, kind=f"{plural}/edges")
    if selector is not None and name is not None:
        raise bad_request("labelSelector applies to lists only")
    target = Target(plural, kinds, namespace, name, edges, window, selector, GROUP)
    attributes = Attributes(
        verb="get" if name is not None else "list",
        resource=plural,
        subresource="edges" if edges else "",
        namespace=namespace or "",
        name=name or "",
        group=GROUP,
        version=VERSION,
    )
    return ParsedRequest(target, attributes, template)


def _kinds(pack: Pack, plural: str) -> tuple[Kind, ...]:
    if plural == TRAFFICMETRICS:
        kinds = tuple(k for k in WORKLOAD_KINDS if pack.support(k.plural))
        if kinds:
            return kinds
    elif plural in BY_PLURAL and pack.support(plural):
        return (BY_PLURAL[plural],)
    raise not_found(f"the server could not find the requested resource ({plural!r} is not served "
                    f"by the {pack.name} query pack)", group=GROUP, kind=plural)


def _window(text: str | None) -> float:
    if text is None or text == "":
        return DEFAULT_WINDOW
    return parse_window(text, f"t={text!r}")
