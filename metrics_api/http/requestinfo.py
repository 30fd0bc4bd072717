"""What kube-apiserver's authorizer would be asked about a request, derived from its method, raw path and
query string alone, before anything is validated: k8s.io/apiserver/pkg/endpoints/request/requestinfo.go
(RequestInfoFactory.NewRequestInfo). Authorization comes before routing, so an anonymous or unauthorized
caller learns nothing about which paths, names or windows we would accept."""
from __future__ import annotations

from collections.abc import Mapping

from metrics_api.core.model import Attributes

API_PREFIXES = frozenset({"api", "apis"})
GROUPLESS_API_PREFIXES = frozenset({"api"})
SPECIAL_VERBS = frozenset({"proxy", "watch"})
SPECIAL_VERBS_NO_SUBRESOURCES = frozenset({"proxy"})
NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
                 "DELETE": "delete"}


def request_info(method: str, path: str, query: Mapping[str, str]) -> Attributes | None:
    """The resource attributes of a resource request, or None for a non-resource one (discovery, /openapi,
    /metrics, anything outside /api and /apis), which is authorized by its path and lower-cased method.

    Deliberately stricter than kube in one place: a `fieldSelector=metadata.name=X` on a list does not
    become the request's name (kube's RequiresExactMatch), so RBAC rules limited to resourceNames never
    allow a list: the list must be allowed as a whole. Safe whatever the list filtering does with the
    selector; a narrower grant only costs such a user a 403."""
    trimmed = path.strip("/")   # requestinfo.go splitPath
    parts = trimmed.split("/") if trimmed else []
    if len(parts) < 3 or parts[0] not in API_PREFIXES:
        return None
    prefix, parts = parts[0], parts[1:]
    group = ""
    if prefix not in GROUPLESS_API_PREFIXES:
        if len(parts) < 3:
            return None   # /apis/{group}/{version}: discovery
        group, parts = parts[0], parts[1:]
    version, parts = parts[0], parts[1:]
    if parts and parts[0] in SPECIAL_VERBS:
        if len(parts) < 2:
            # kube answers "unable to determine kind and namespace from url": authorize as the bare verb
            return Attributes(parts[0], "", "", "", "", group, version)
        verb, parts = parts[0], parts[1:]
    else:
        verb = _METHOD_VERBS.get(method, "")
    namespace = ""
    if parts and parts[0] == "namespaces":
        if len(parts) > 1:
            namespace = parts[1]
            if len(parts) > 2 and parts[2] not in NAMESPACE_SUBRESOURCES:
                parts = parts[2:]
    resource = parts[0] if parts else ""
    name = parts[1] if len(parts) >= 2 else ""
    subresource = parts[2] if len(parts) >= 3 and verb not in SPECIAL_VERBS_NO_SUBRESOURCES else ""
    if not name and verb == "get":
        verb = "watch" if _watch(query) else "list"
    elif not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(verb, resource, subresource, namespace, name, group, version)


def _watch(query: Mapping[str, str]) -> bool:
    """metav1.ListOptions' `watch` as apimachinery decodes a boolean parameter (runtime/conversion.go
    Convert_Slice_string_To_bool): absent, "0" or "false" (any case) is false; anything else, even "", true."""
    value = query.get("watch")
    return value is not None and value != "0" and value.lower() != "false"
