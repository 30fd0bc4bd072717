"""Route, parse and validate: an API path and its query string → a Target, or a Status error."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from metrics_api.apis.smi import API_PREFIX, GROUP
from metrics_api.core.errors import bad_request, not_found
from metrics_api.core.kinds import BY_PLURAL, TRAFFICMETRICS, WORKLOAD_KINDS, Kind, is_dns1123_label, name_problem
from metrics_api.core.model import Target
from metrics_api.core.window import parse_window
from metrics_api.kube.fields import parse_field_selector
from metrics_api.kube.selectors import parse_selector
from metrics_api.packs.model import Pack

DEFAULT_WINDOW = 30.0


@dataclass(frozen=True)
class ParsedRequest:
    target: Target
    path_template: str      # low-cardinality path for our own metrics


def parse(pack: Pack, path: str, query: Mapping[str, str]) -> ParsedRequest:
    """`path` starts with API_PREFIX and is not the prefix itself. Called once the request is authorized
    (its authorization attributes come from the raw path: http/requestinfo.py)."""
    segments = path[len(API_PREFIX):].strip("/").split("/")
    window = _window(query.get("t"))
    selector = query.get("labelSelector") or None
    fields = query.get("fieldSelector") or None   # read on lists only, as kube-apiserver does
    match segments:
        case ["namespaces", namespace]:
            return _build(pack, "namespaces", None, namespace, False, window, selector, "/namespaces/{name}")
        case ["namespaces", namespace, "edges"]:
            return _build(pack, "namespaces", None, namespace, True, window, selector, "/namespaces/{name}/edges")
        case ["namespaces", namespace, plural]:
            return _build(pack, plural, namespace, None, False, window, selector, "/namespaces/{namespace}/{plural}",
                          fields)
        case ["namespaces", namespace, plural, name]:
            return _build(pack, plural, namespace, name, False, window, selector,
                          "/namespaces/{namespace}/{plural}/{name}")
        case ["namespaces", namespace, plural, name, "edges"]:
            return _build(pack, plural, namespace, name, True, window, selector,
                          "/namespaces/{namespace}/{plural}/{name}/edges")
        case [plural]:
            return _build(pack, plural, None, None, False, window, selector, "/{plural}", fields)
    raise not_found("the server could not find the requested resource")


def _build(pack: Pack, plural: str, namespace: str | None, name: str | None, edges: bool,
           window: float, selector: str | None, template: str, fields: str | None = None) -> ParsedRequest:
    """`fields`: a list's fieldSelector text."""
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
    if selector is not None:
        parse_selector(selector)   # a bad selector is a 400 before any query (it is applied after them)
    if fields is not None:
        parse_field_selector(fields)
    return ParsedRequest(Target(plural, kinds, namespace, name, edges, window, selector, GROUP, fields), template)


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
