"""Issue 10 regressions that need cluster mode (tests/support/kube_stub.py in place of kube-apiserver):
label selectors validated before any query, and the answer cache keyed on the string routing parsed."""
from __future__ import annotations

import time

import pytest

from metrics_api.apis.smi import API_PREFIX
from tests.e2e.test_kube import Client, as_user, fresh_user
from tests.support.faultproxy import fault_proxy
from tests.support.kube_stub import KubeStub, objects_of
from tests.support.serverproc import ServerProcess

DEPLOYMENTS = f"{API_PREFIX}/namespaces/shop/deployments"


@pytest.fixture(scope="module")
def stub(scenario, tmp_path_factory):
    kube = KubeStub(tmp_path_factory.mktemp("kube"), objects_of(scenario)).start()
    kube.policy = lambda spec: True
    try:
        yield kube
    finally:
        kube.stop()


@pytest.fixture(scope="module")
def store(prometheus):
    with fault_proxy(prometheus.url) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def aggregator(stub, store, tmp_path_factory):
    """kube-apiserver's aggregator (the front-proxy client certificate) talking to a cluster-mode server
    whose Prometheus is behind `store`."""
    server = ServerProcess(store.url, "--mesh", "linkerd", "--kubeconfig", str(stub.kubeconfig()),
                           "--bind-address", "127.0.0.1", "--request-timeout", "2",
                           cert_dir=tmp_path_factory.mktemp("cluster"), local=False)
    client = Client(server, stub.front_proxy_ca.issue("front-proxy-client"))
    try:
        yield client
    finally:
        client.close()
        server.stop()


def test_invalid_label_selector_is_400_before_any_query_even_with_a_slow_prometheus(aggregator, store):
    store.delay = 5.0   # longer than --request-timeout: any query would make this a 504
    try:
        sent = len(store.queries)
        started = time.monotonic()
        code, body = aggregator.get(f"{DEPLOYMENTS}?labelSelector=app%3D%3D%3Dweb", as_user(fresh_user("sel")))
        assert (code, body["reason"]) == (400, "BadRequest"), body
        assert "labelSelector" in body["message"]
        assert time.monotonic() - started < 1.0
        assert len(store.queries) == sent
    finally:
        store.heal()


def test_a_request_is_never_answered_from_a_differently_parsed_requests_cache_entry(aggregator):
    """`app%3Dweb` and `app%253Dweb` decode to the same query string (aiohttp keeps `%3D` encoded in it)
    but to different selectors: `app=web`, valid, and `app%3Dweb`, invalid."""
    user = as_user(fresh_user("cache"))
    code, valid = aggregator.get(f"{DEPLOYMENTS}?labelSelector=app%3Dweb", user)
    assert code == 200 and [item["metadata"]["name"] for item in valid["items"]] == ["web"], valid
    code, body = aggregator.get(f"{DEPLOYMENTS}?labelSelector=app%253Dweb", user)
    assert (code, body.get("reason")) == (400, "BadRequest"), body
