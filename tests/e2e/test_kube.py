"""Cluster mode end to end: the server (a subprocess, as users run it) against tests/kube_stub.py in
place of kube-apiserver and the session's real Prometheus. Real TLS client certificates throughout."""
from __future__ import annotations

import base64
import http.client
import itertools
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest
from cryptography import x509

from metrics_api.apis.smi import API_PREFIX
from tests.support.kube_stub import Authority, KubeStub, objects_of
from tests.support.serverproc import ServerProcess, server_pool

P = API_PREFIX
GROUP = "metrics.smi-spec.io"
QUIET = ("shop", "quiet", "StatefulSet", {"app": "quiet", "tier": "data"})   # in the cluster, no traffic
RELOAD = "1"   # --reload-interval for these servers, seconds
_users = itertools.count()


def fresh_user(stem: str) -> str:
    """A user name no earlier request used, so that no cached decision answers for it."""
    return f"{stem}-{next(_users)}"


class Client:
    """One keep-alive HTTPS connection, optionally presenting a client certificate."""

    def __init__(self, server: ServerProcess, cert: tuple[Path, Path] | None = None) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if cert:
            context.load_cert_chain(*cert)
        self._connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=30)

    def get(self, path: str, headers: list[tuple[str, str]] = ()) -> tuple[int, dict]:
        self._connection.putrequest("GET", path)
        for name, value in headers:   # repeated names stay repeated
            self._connection.putheader(name, value)
        self._connection.endheaders()
        response = self._connection.getresponse()
        body = response.read()
        return response.status, orjson.loads(body) if body.startswith(b"{") else {"text": body.decode()}

    def close(self) -> None:
        self._connection.close()


def as_user(name: str, *groups: str) -> list[tuple[str, str]]:
    return [("X-Remote-User", name)] + [("X-Remote-Group", g) for g in groups]


@pytest.fixture(scope="module")
def stub(scenario, tmp_path_factory):
    kube = KubeStub(tmp_path_factory.mktemp("kube"), objects_of(scenario, (QUIET,))).start()
    try:
        yield kube
    finally:
        kube.stop()


@pytest.fixture(scope="module")
def cluster_server(stub, prometheus, tmp_path_factory):
    """`cluster_server(mesh, *flags)`: a server in cluster mode on the stub, one per (mesh, flags)."""
    def make(mesh: str, *flags: str) -> ServerProcess:
        return ServerProcess(prometheus.url, "--mesh", mesh, "--kubeconfig", str(stub.kubeconfig()), "--bind-address",
                             "127.0.0.1", "--reload-interval", RELOAD, *flags,
                             cert_dir=tmp_path_factory.mktemp("cluster-server"), local=False)

    with server_pool(make) as start:
        yield start


@pytest.fixture(scope="module")
def proxy_cert(stub):
    return stub.front_proxy_ca.issue("front-proxy-client")


@pytest.fixture(scope="module")
def proxy(cluster_server, proxy_cert):
    """kube-apiserver's aggregator: the front-proxy client certificate, on the linkerd server."""
    client = Client(cluster_server("linkerd"), proxy_cert)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def allow_everything(stub):
    stub.policy = lambda spec: True
    yield


# ---------------------------------------------------------------- authentication

def test_no_credentials_is_401(cluster_server):
    client = Client(cluster_server("linkerd"))
    for path in (f"{P}/namespaces/shop/deployments", P, "/metrics", "/apis"):
        code, body = client.get(path)
        assert (code, body["reason"], body["message"]) == (401, "Unauthorized", "Unauthorized"), path
    assert client.get("/healthz")[0] == 200   # health needs nothing


def test_forged_remote_user_without_the_front_proxy_certificate_is_401(cluster_server, stub):
    client = Client(cluster_server("linkerd"))
    before = len(stub.subject_access_reviews)
    code, body = client.get(f"{P}/namespaces/shop/deployments", as_user("admin", "system:masters"))
    assert (code, body["kind"]) == (401, "Status")
    assert len(stub.subject_access_reviews) == before


def test_front_proxy_certificate_with_a_cn_not_allowed_is_401(cluster_server, stub):
    client = Client(cluster_server("linkerd"), stub.front_proxy_ca.issue("intruder"))
    assert client.get(f"{P}/namespaces/shop/deployments", as_user("jane"))[0] == 401


def test_client_ca_certificate_is_its_cn_and_o_never_the_headers(cluster_server, stub):
    client = Client(cluster_server("linkerd"), stub.client_ca.issue("alice", ("dev", "ops")))
    stub.subject_access_reviews.clear()
    code, _ = client.get(f"{P}/namespaces/shop/deployments", as_user("admin", "system:masters"))
    assert code == 200
    [spec] = stub.subject_access_reviews
    assert (spec["user"], spec["groups"]) == ("alice", ["dev", "ops", "system:authenticated"])


def test_front_proxy_headers_are_the_user_authorized_by_sar(proxy, stub):
    user = fresh_user("jane")
    stub.subject_access_reviews.clear()
    headers = as_user(user, "team-a", "team-b") + [
        ("X-Remote-Extra-Authentication.kubernetes.io%2fpod-name", "pod-1"),
        ("X-Remote-Extra-Scopes", "s1"), ("X-Remote-Extra-Scopes", "s2")]
    code, body = proxy.get(f"{P}/namespaces/shop/deployments/web", headers)
    assert (code, body["kind"]) == (200, "TrafficMetrics")
    [spec] = stub.subject_access_reviews
    assert spec == {
        "user": user, "groups": ["team-a", "team-b", "system:authenticated"],
        "extra": {"authentication.kubernetes.io/pod-name": ["pod-1"], "scopes": ["s1", "s2"]},
        "resourceAttributes": {"namespace": "shop", "verb": "get", "group": GROUP, "version": "v1alpha1",
                               "resource": "deployments", "name": "web"}}


def test_system_masters_needs_no_review(proxy, stub):
    stub.subject_access_reviews.clear()
    assert proxy.get(P, as_user("system:kube-aggregator", "system:masters"))[0] == 200
    assert stub.subject_access_reviews == []


def test_bearer_tokens_are_reviewed_and_cached_either_way(cluster_server, stub):
    client = Client(cluster_server("linkerd"))
    stub.tokens["token-bob"] = {"username": "bob", "uid": "u-1", "groups": ["team-b"]}
    stub.token_reviews.clear()
    stub.subject_access_reviews.clear()
    for _ in range(3):
        assert client.get(f"{P}/namespaces/shop/deployments", [("Authorization", "Bearer token-bob")])[0] == 200
        assert client.get(f"{P}/namespaces/shop/deployments", [("Authorization", "Bearer forged")])[0] == 401
    assert sorted(stub.token_reviews) == ["forged", "token-bob"]     # one review per token within 10 s
    assert stub.subject_access_reviews[0]["user"] == "bob"
    assert stub.subject_access_reviews[0]["uid"] == "u-1"
    assert stub.subject_access_reviews[0]["groups"] == ["team-b", "system:authenticated"]


def test_concurrent_reviews_of_one_token_are_coalesced(cluster_server, stub):
    server = cluster_server("linkerd")
    stub.tokens["token-burst"] = {"username": "burst", "groups": []}
    stub.token_reviews.clear()

    def one(_):
        client = Client(server)
        try:
            return client.get(P, [("Authorization", "Bearer token-burst")])[0]
        finally:
            client.close()

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(one, range(32)))
    assert codes == [200] * 32
    assert stub.token_reviews == ["token-burst"]


# ---------------------------------------------------------------- authorization

def test_denied_user_gets_403_and_never_cached_data(proxy, stub):
    path = f"{P}/namespaces/shop/deployments/web/edges"
    allowed, denied = fresh_user("jane"), fresh_user("mallory")
    stub.policy = lambda spec: spec["user"] != denied
    code, warm = proxy.get(path, as_user(allowed))
    assert code == 200 and warm["items"], "the allowed user warms the metrics cache"
    for _ in range(2):   # the second answer comes from the decision cache: still denied
        code, body = proxy.get(path, as_user(denied))
        assert code == 403
        assert body == {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f'deployments.{GROUP} "web" is forbidden: User "{denied}" cannot get resource '
                       f'"deployments/edges" in API group "{GROUP}" in the namespace "shop"',
            "reason": "Forbidden", "details": {"name": "web", "group": GROUP, "kind": "deployments"}, "code": 403}
    assert sum(spec["user"] == denied for spec in stub.subject_access_reviews) == 1


# Decision-cache isolation: each case has a path of its own that no other test requests, so that the first
# decision cached for it is this test's, whatever ran before (a cache keyed without the user would answer
# the second user with the first user's decision, within its 10 s lifetime).
ISOLATION = {
    "deny-then-allow": f"{P}/namespaces/pay/deployments/gateway",
    "allow-then-deny": f"{P}/namespaces/pay/statefulsets/ledger/edges",
}


@pytest.mark.parametrize("order", ISOLATION)
def test_one_users_cached_decision_never_answers_another(proxy, stub, order):
    first, second = fresh_user("first"), fresh_user("second")
    allowed = second if order == "deny-then-allow" else first
    stub.policy = lambda spec: spec["user"] == allowed
    stub.subject_access_reviews.clear()
    for _ in range(2):   # the second round is answered from the decision cache
        for user in (first, second):
            code, body = proxy.get(ISOLATION[order], as_user(user))
            assert code == (200 if user == allowed else 403), (order, user, body)
    assert [spec["user"] for spec in stub.subject_access_reviews] == [first, second]


def test_a_users_groups_are_part_of_the_cached_decision(proxy, stub):
    """The same user name with and without the group RBAC allows: two decisions, both orders."""
    user = fresh_user("grouped")
    stub.policy = lambda spec: "team-pay" in spec["groups"]
    for path, groups in ((f"{P}/namespaces/ops/daemonsets/agent", ((), ("team-pay",))),
                         (f"{P}/namespaces/ops/jobs/backup", (("team-pay",), ()))):
        for _ in range(2):
            for group in groups:
                code, _ = proxy.get(path, as_user(user, *group))
                assert code == (200 if group else 403), (path, group)


def test_forbidden_messages_at_the_cluster_scope_and_for_paths(proxy, stub):
    stub.policy = lambda spec: False
    user = fresh_user("nobody")
    code, body = proxy.get(f"{P}/deployments", as_user(user))
    assert (code, body["message"]) == (403, f'deployments.{GROUP} is forbidden: User "{user}" cannot list resource '
                                            f'"deployments" in API group "{GROUP}" at the cluster scope')
    code, body = proxy.get("/metrics", as_user(user))
    assert (code, body["message"]) == (403, f'forbidden: User "{user}" cannot get path "/metrics"')


def resource(verb, resource, namespace="", name="", subresource=""):
    fields = {"namespace": namespace, "verb": verb, "group": GROUP, "version": "v1alpha1", "resource": resource,
              "subresource": subresource, "name": name}
    return {"resourceAttributes": {k: v for k, v in fields.items() if v}}


def path(p):
    return {"nonResourceAttributes": {"path": p, "verb": "get"}}


# Each path → the attributes kube-apiserver's RequestInfoFactory gives it (k8s.io/apiserver requestinfo.go).
ATTRIBUTES = {
    f"{P}/namespaces/shop/deployments": resource("list", "deployments", "shop"),
    f"{P}/namespaces/shop/deployments/web": resource("get", "deployments", "shop", "web"),
    f"{P}/namespaces/shop/deployments/web/edges": resource("get", "deployments", "shop", "web", "edges"),
    f"{P}/deployments": resource("list", "deployments"),
    f"{P}/namespaces": resource("list", "namespaces"),
    f"{P}/namespaces/shop": resource("get", "namespaces", "shop", "shop"),
    f"{P}/namespaces/shop/edges": resource("list", "edges", "shop"),
    f"{P}/namespaces/shop/trafficmetrics": resource("list", "trafficmetrics", "shop"),
    f"{P}/namespaces/shop/pods?labelSelector=app%3Dweb": resource("list", "pods", "shop"),
    P: path(P),
    "/apis": path("/apis"),
    f"/apis/{GROUP}": path(f"/apis/{GROUP}"),
    "/metrics": path("/metrics"),
}


@pytest.mark.parametrize("request_path", ATTRIBUTES)
def test_attribute_matrix(proxy, stub, request_path):
    user = fresh_user("matrix")
    stub.subject_access_reviews.clear()
    code, _ = proxy.get(request_path, as_user(user))
    assert code == 200
    [spec] = stub.subject_access_reviews
    assert {k: v for k, v in spec.items() if k not in ("user", "groups")} == ATTRIBUTES[request_path]


@pytest.mark.parametrize("health", ["/healthz", "/livez", "/readyz"])
def test_health_skips_authentication_and_authorization(cluster_server, stub, health):
    stub.subject_access_reviews.clear()
    assert Client(cluster_server("linkerd")).get(health)[0] == 200
    assert stub.subject_access_reviews == []


# ---------------------------------------------------------------- rotation

def wait_for(condition, timeout: float = 15.0) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(0.2)
    return time.monotonic() - started


def test_configmap_ca_rotation_and_allowed_names_apply_without_restart(cluster_server, stub, proxy_cert, tmp_path):
    server = cluster_server("linkerd")
    rotated = Authority.create(tmp_path / "front-proxy-ca-2", "front-proxy-ca-2")
    new_cert = rotated.issue("front-proxy-client")

    def answers(cert) -> int:
        client = Client(server, cert)
        try:
            return client.get(P, as_user(fresh_user("rot")))[0]
        except (ssl.SSLError, ConnectionError):
            return 0   # not even a handshake: the CA is not trusted (yet)
        finally:
            client.close()

    assert answers(proxy_cert) == 200 and answers(new_cert) != 200
    try:
        stub.set_authentication(rotated, ["front-proxy-client"])
        waited = wait_for(lambda: answers(new_cert) == 200)
        assert answers(proxy_cert) == 401
        stub.set_authentication(rotated, ["another-proxy"])
        wait_for(lambda: answers(new_cert) == 401)
        print(f"\nConfigMap CA rotation applied after {waited:.1f}s (--reload-interval {RELOAD}s)")
    finally:
        stub.set_authentication(stub.front_proxy_ca, ["front-proxy-client"])
        wait_for(lambda: answers(proxy_cert) == 200)


def served_certificate(port: int) -> x509.Certificate:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port)) as raw, context.wrap_socket(raw) as tls:
        return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def test_serving_certificate_rotation_on_disk(cluster_server, stub, tmp_path):
    ca = Authority.create(tmp_path / "serving", "serving-ca")
    live_cert, live_key = tmp_path / "tls.crt", tmp_path / "tls.key"

    def install(cert: Path, key: Path) -> x509.Certificate:
        # As a Secret volume update: new files renamed into place.
        for source, target in ((key, live_key), (cert, live_cert)):
            target.with_suffix(".new").write_bytes(source.read_bytes())
            target.with_suffix(".new").rename(target)
        return x509.load_pem_x509_certificate(live_cert.read_bytes())

    first = install(*ca.issue("smi-metrics-api.smi-metrics.svc", server_hosts=("smi-metrics-api.smi-metrics.svc",)))
    server = cluster_server("linkerd", "--tls-cert-file", str(live_cert), "--tls-private-key-file", str(live_key))
    assert served_certificate(server.port) == first
    second = install(*ca.issue("smi-metrics-api.smi-metrics.svc", server_hosts=("smi-metrics-api.smi-metrics.svc",)))
    waited = wait_for(lambda: served_certificate(server.port) == second)
    print(f"\nserving certificate rotation picked up after {waited:.1f}s (--reload-interval {RELOAD}s)")


def test_generated_ca_is_written_to_the_apiservice_and_verifies_the_service_name(cluster_server, stub):
    server = cluster_server("linkerd", "--write-ca-bundle", "--service-name", "metrics", "--service-namespace", "mesh")
    bundle = base64.b64decode(stub.apiservice["spec"]["caBundle"])
    context = ssl.create_default_context(cadata=bundle.decode())   # verifies chain and host name
    for host in ("metrics.mesh.svc", "metrics.mesh.svc.cluster.local"):
        with socket.create_connection(("127.0.0.1", server.port)) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_tls_is_1_2_or_newer_and_alpn_is_http_1_1_only(cluster_server):
    port = cluster_server("linkerd").port
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    old.minimum_version, old.maximum_version = ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")   # so that it is the server that refuses
    with pytest.raises(ssl.SSLError) as refused, socket.create_connection(("127.0.0.1", port)) as raw:
        old.wrap_socket(raw)
    assert "NO_PROTOCOLS_AVAILABLE" not in str(refused.value)
    modern = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    modern.check_hostname, modern.verify_mode = False, ssl.CERT_NONE
    modern.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", port)) as raw, modern.wrap_socket(raw) as tls:
        assert tls.selected_alpn_protocol() == "http/1.1"


# ---------------------------------------------------------------- workloads

def names(body: dict) -> list[tuple[str, str]]:
    return [(item["resource"]["kind"], item["metadata"]["name"]) for item in body["items"]]


def matching(scenario, namespace: str, predicate) -> set[str]:
    return {w.name for w in scenario.workloads if w.namespace == namespace and predicate(w.labels)}


@pytest.mark.parametrize("selector, predicate", [
    ("tier=backend", lambda labels: labels.get("tier") == "backend"),
    ("tier==backend,app!=idle", lambda labels: labels.get("tier") == "backend" and labels.get("app") != "idle"),
    ("tier in (frontend, data)", lambda labels: labels.get("tier") in ("frontend", "data")),
    ("tier notin (frontend),app", lambda labels: labels.get("tier") != "frontend" and "app" in labels),
    ("!tier", lambda labels: "tier" not in labels),
])
def test_label_selectors_filter_list_items(proxy, scenario, selector, predicate):
    headers = as_user(fresh_user("sel"))
    code, everything = proxy.get(f"{P}/namespaces/shop/trafficmetrics", headers)
    assert code == 200
    code, selected = proxy.get(f"{P}/namespaces/shop/trafficmetrics?labelSelector={selector.replace(' ', '%20')}",
                               headers)
    assert code == 200, selected
    expected = {n for _, n in names(everything)} & matching(scenario, "shop", predicate)
    assert expected or selector == "!tier"   # every scenario workload has a tier
    assert names(selected) == [kn for kn in names(everything) if kn[1] in expected]


def test_label_selector_on_pods_matches_pod_labels(proxy, scenario):
    code, body = proxy.get(f"{P}/namespaces/shop/pods?labelSelector=app%3Ddb", as_user(fresh_user("sel")))
    assert code == 200
    assert {n for _, n in names(body)} == set(scenario.workload("shop", "db").pods)


@pytest.mark.parametrize("selector", ["tier%20in%20(", "tier%20web", "-bad%3Dx", "a%3Db%2C", "tier%20in%20()"])
def test_invalid_label_selector_is_400(proxy, selector):
    code, body = proxy.get(f"{P}/namespaces/shop/deployments?labelSelector={selector}", as_user(fresh_user("sel")))
    assert (code, body["reason"]) == (400, "BadRequest"), body
    assert "labelSelector" in body["message"]


def test_label_selector_in_local_mode_is_400(api_server):
    reply = api_server("linkerd").get(f"{P}/namespaces/shop/deployments?labelSelector=tier%3Dbackend")
    assert reply.status == 400
    assert "--local" in reply.json()["message"]


def test_existing_idle_workload_is_zeros_unknown_is_404(proxy, api_server):
    headers = as_user(fresh_user("idle"))
    code, body = proxy.get(f"{P}/namespaces/shop/statefulsets/quiet", headers)
    assert code == 200, body
    assert body["resource"] == {"kind": "StatefulSet", "namespace": "shop", "name": "quiet"}
    assert {m["name"]: m["value"] for m in body["metrics"]} == {
        "p99_response_latency": "0", "p90_response_latency": "0", "p50_response_latency": "0",
        "success_count": "0", "failure_count": "0", "request_rate": "0"}   # no success_rate: CONTRACT §3
    code, edges = proxy.get(f"{P}/namespaces/shop/statefulsets/quiet/edges", headers)
    assert (code, edges["items"], edges["resource"]["name"]) == (200, [], "quiet")
    assert proxy.get(f"{P}/namespaces/shop/statefulsets/nowhere", headers)[0] == 404
    assert proxy.get(f"{P}/namespaces/shop/deployments/quiet", headers)[0] == 404   # exists, another kind
    assert api_server("linkerd").get(f"{P}/namespaces/shop/statefulsets/quiet").status == 404   # --local: unknown


@pytest.fixture(scope="module")
def istio(cluster_server, proxy_cert):
    client = Client(cluster_server("istio"), proxy_cert)
    yield client
    client.close()


def test_kind_blind_mesh_gets_real_kinds_from_the_cluster(istio):
    headers = as_user(fresh_user("kinds"))
    code, statefulsets = istio.get(f"{P}/namespaces/shop/statefulsets", headers)
    assert code == 200
    assert names(statefulsets) == [("StatefulSet", "db")]
    code, deployments = istio.get(f"{P}/namespaces/shop/deployments", headers)
    assert ("Deployment", "db") not in names(deployments) and ("Deployment", "web") in names(deployments)
    assert istio.get(f"{P}/namespaces/shop/deployments/db", headers)[0] == 404
    code, everything = istio.get(f"{P}/namespaces/shop/trafficmetrics", headers)
    assert ("StatefulSet", "db") in names(everything) and ("Deployment", "api") in names(everything)
    code, edges = istio.get(f"{P}/namespaces/shop/deployments/api/edges", headers)
    peers = {(i["edge"]["direction"], i["edge"]["resource"]["kind"], i["edge"]["resource"]["name"])
             for i in edges["items"]}
    assert ("to", "StatefulSet", "db") in peers and ("to", "Deployment", "gateway") in peers


# ---------------------------------------------------------------- cost

def timed(client: Client, path: str, headers_for, n: int) -> list[float]:
    took = []
    for i in range(n):
        started = time.perf_counter()
        code, _ = client.get(path, headers_for(i))
        took.append((time.perf_counter() - started) * 1000)
        assert code == 200
    return sorted(took)


def test_cost_of_authentication_and_authorization(api_server, cluster_server, proxy_cert, stub):
    """Per-request cost on the discovery document (pre-serialized, so the difference is authn + authz):
    --local (no auth) vs cluster mode with a cached decision vs a new user per request (a SubjectAccessReview
    round trip to the stub on loopback each time)."""
    n = 300
    local = Client(api_server("linkerd"))
    proxied = Client(cluster_server("linkerd"), proxy_cert)
    timed(local, P, lambda i: [], 20)   # warm both connections
    timed(proxied, P, lambda i: as_user("warm"), 20)
    cached_user = fresh_user("cost")
    stub.subject_access_reviews.clear()
    results = {
        "local (no auth)": timed(local, P, lambda i: [], n),
        "front proxy, cached decision": timed(proxied, P, lambda i: as_user(cached_user, "g"), n),
        "front proxy, new user (SAR each)": timed(proxied, P, lambda i: as_user(fresh_user("cost"), "g"), n),
    }
    assert len(stub.subject_access_reviews) == 1 + n   # one for the cached user, then one per new user
    report = {name: (ms[n // 2], ms[int(n * 0.99)]) for name, ms in results.items()}
    print("\nauthn/authz cost, ms per request (median, p99) over", n, "keep-alive requests:")
    for name, (median, p99) in report.items():
        print(f"  {name:34s} {median:6.2f} {p99:6.2f}")
    base = report["local (no auth)"][0]
    print(f"  overhead: cached {report['front proxy, cached decision'][0] - base:+.2f} ms, "
          f"uncached {report['front proxy, new user (SAR each)'][0] - base:+.2f} ms (median)")
    assert report["front proxy, cached decision"][0] < base + 5


# ---------------------------------------------------------------- traffic splits from the cluster (v1alpha2)

def test_splits_are_read_from_the_versions_the_cluster_serves(stub, cluster_server, proxy_cert):
    """ClusterRoutes asks /apis which split.smi-spec.io and gateway versions exist and lists those."""
    from meshsim.routes import objects

    by_plural = {"TrafficSplit": "trafficsplits", "HTTPRoute": "httproutes", "ReferenceGrant": "referencegrants"}
    stub.route_objects = {}
    for obj in objects():
        stub.route_objects.setdefault(by_plural[obj["kind"]], []).append(obj)
    stub.served_groups = {"split.smi-spec.io": ["v1alpha2"], "gateway.networking.k8s.io": ["v1beta1"]}
    client = Client(cluster_server("linkerd"), proxy_cert)
    try:
        code, listing = client.get("/apis/metrics.smi-spec.io/v1alpha2/namespaces/shop/trafficsplits/checkout-v1alpha4",
                                   as_user("alice"))
        assert code == 200, listing
        assert [(i["backend"]["name"], i["backend"]["weight"]) for i in listing["items"]] == \
            [("checkout-stable", 90), ("checkout-canary", 10)]
        code, routes = client.get("/apis/metrics.smi-spec.io/v1alpha2/namespaces/ops/httproutes", as_user("alice"))
        assert code == 200 and [i["backend"]["apex"] for i in routes["items"]] == ["checkout", "checkout"]
    finally:
        client.close()
    assert "/apis/split.smi-spec.io/v1alpha2/trafficsplits" in stub.list_calls
    assert "/apis/gateway.networking.k8s.io/v1beta1/httproutes" in stub.list_calls
    resources = [review.get("resourceAttributes", {}) for review in stub.subject_access_reviews]
    assert any(r.get("version") == "v1alpha2" and r.get("resource") == "trafficsplits" for r in resources)
