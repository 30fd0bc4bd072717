"""Authorization attributes from the raw request, as kube-apiserver derives them: the cases of
k8s.io/apiserver/pkg/endpoints/request/requestinfo_test.go (TestGetAPIRequestInfo) and ours."""
from urllib.parse import parse_qsl, urlsplit

import pytest

from metrics_api.apis.smi import API_PREFIX
from metrics_api.http.requestinfo import request_info

P = API_PREFIX
G = "metrics.smi-spec.io"

# method, URL → verb, group, version, namespace, resource, subresource, name
RESOURCE = [
    ("GET", "/api/v1/namespaces", "list", "", "v1", "", "namespaces", "", ""),
    ("GET", "/api/v1/namespaces/other", "get", "", "v1", "other", "namespaces", "", "other"),
    ("GET", "/api/v1/namespaces/other/pods", "list", "", "v1", "other", "pods", "", ""),
    ("GET", "/api/v1/namespaces/other/pods/foo", "get", "", "v1", "other", "pods", "", "foo"),
    ("HEAD", "/api/v1/namespaces/other/pods/foo", "get", "", "v1", "other", "pods", "", "foo"),
    ("GET", "/api/v1/pods", "list", "", "v1", "", "pods", "", ""),
    ("HEAD", "/api/v1/pods", "list", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/proxy/namespaces/other/pods/foo", "proxy", "", "v1", "other", "pods", "", "foo"),
    ("GET", "/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource", "proxy", "", "v1", "other", "pods",
     "", "foo"),
    ("GET", "/api/v1/watch/pods", "watch", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/pods?watch=true", "watch", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/pods?watch=false", "list", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/watch/namespaces/other/pods", "watch", "", "v1", "other", "pods", "", ""),
    ("GET", "/api/v1/namespaces/other/pods?watch=1", "watch", "", "v1", "other", "pods", "", ""),
    ("GET", "/api/v1/namespaces/other/pods?watch=0", "list", "", "v1", "other", "pods", "", ""),
    ("GET", "/api/v1/namespaces/other/pods/foo/status", "get", "", "v1", "other", "pods", "status", "foo"),
    ("GET", "/api/v1/namespaces/other/pods/foo/proxy/subpath", "get", "", "v1", "other", "pods", "proxy", "foo"),
    ("PUT", "/api/v1/namespaces/other/finalize", "update", "", "v1", "other", "namespaces", "finalize", "other"),
    ("PUT", "/api/v1/namespaces/other/status", "update", "", "v1", "other", "namespaces", "status", "other"),
    ("PATCH", "/api/v1/namespaces/other/pods/foo", "patch", "", "v1", "other", "pods", "", "foo"),
    ("DELETE", "/api/v1/namespaces/other/pods/foo", "delete", "", "v1", "other", "pods", "", "foo"),
    ("POST", "/api/v1/namespaces/other/pods", "create", "", "v1", "other", "pods", "", ""),
    ("DELETE", "/api/v1/nodes", "deletecollection", "", "v1", "", "nodes", "", ""),
    ("DELETE", "/apis/extensions/v1/namespaces/other/pods", "deletecollection", "extensions", "v1", "other", "pods",
     "", ""),
    ("POST", "/apis/extensions/v1beta3/namespaces/other/pods", "create", "extensions", "v1beta3", "other", "pods",
     "", ""),
    # Ours, as kube reads them (the SubjectAccessReviews of tests/e2e/test_kube.py's matrix).
    ("GET", f"{P}/namespaces/shop/deployments/web/edges", "get", G, "v1alpha1", "shop", "deployments", "edges", "web"),
    ("GET", f"{P}/namespaces/shop/edges", "list", G, "v1alpha1", "shop", "edges", "", ""),
    ("GET", f"{P}/namespaces/shop", "get", G, "v1alpha1", "shop", "namespaces", "", "shop"),
    ("GET", f"{P}/namespaces", "list", G, "v1alpha1", "", "namespaces", "", ""),
    ("GET", f"{P}/deployments?watch=", "watch", G, "v1alpha1", "", "deployments", "", ""),   # "" is true in Go
    ("GET", f"{P}/nosuchplural/x?t=junk", "get", G, "v1alpha1", "", "nosuchplural", "", "x"),   # not validated
    ("POST", f"{P}/namespaces/shop/deployments", "create", G, "v1alpha1", "shop", "deployments", "", ""),
    ("OPTIONS", f"{P}/deployments", "", G, "v1alpha1", "", "deployments", "", ""),
    # A field selector naming the object does not narrow a list here (see request_info's docstring).
    ("GET", f"{P}/namespaces/shop/deployments?fieldSelector=metadata.name%3Dweb", "list", G, "v1alpha1", "shop",
     "deployments", "", ""),
]


def _info(method: str, url: str):
    parts = urlsplit(url)
    return request_info(method, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)))


@pytest.mark.parametrize("method, url, verb, group, version, namespace, resource, subresource, name", RESOURCE)
def test_resource_requests(method, url, verb, group, version, namespace, resource, subresource, name):
    info = _info(method, url)
    assert info is not None
    assert (info.verb, info.group, info.version, info.namespace, info.resource, info.subresource, info.name) == (
        verb, group, version, namespace, resource, subresource, name)


@pytest.mark.parametrize("url", ["/", "/api", "/api/v1", "/api/v1/", "/apis", f"/apis/{G}", P, P + "/", "/version",
                                 "/metrics", "/openapi/v2", "/openapi/v3/apis/metrics.smi-spec.io/v1alpha1",
                                 "/healthz/ping", "/other/prefix/entirely"])
def test_non_resource_requests(url):
    assert _info("GET", url) is None
