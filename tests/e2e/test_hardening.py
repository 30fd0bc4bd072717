"""Issue 10 regressions on a real server and a real Prometheus behind tests/support/faultproxy.py:
huge and malformed Prometheus answers, and the other hostile-input findings that need HTTP."""
from __future__ import annotations

import dataclasses
import time

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshsim.scenario import default_scenario
from meshsim.store import PrometheusServer, write_scenario
from metrics_api.apis.smi import API_PREFIX

MAX_INT64 = (1 << 63) - 1   # Go int64, the range of a Table integer cell
from tests.support.faultproxy import fault_proxy
from tests.support.serverproc import Reply, ServerProcess

P = API_PREFIX
WEB = f"{P}/namespaces/shop/deployments/web"
LIST = f"{P}/namespaces/shop/deployments"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


@pytest.fixture(scope="module")
def proxy(prometheus):
    with fault_proxy(prometheus.url) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def uncached(proxy, tmp_path_factory):
    """A server on the proxy that asks Prometheus on every request (--cache-ttl 0)."""
    server = ServerProcess(proxy.url, "--mesh", "linkerd", "--cache-ttl", "0", "--request-timeout", "5",
                           cert_dir=tmp_path_factory.mktemp("hardening"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def healed(proxy):
    yield proxy
    proxy.heal()


def _every_value(text: str):
    def rewrite(body: bytes) -> bytes:
        document = orjson.loads(body)
        data = document.get("data")
        if isinstance(data, dict) and data.get("resultType") == "vector":
            for series in data["result"]:
                series["value"][1] = text
        return orjson.dumps(document)
    return rewrite


def _values(item: dict) -> dict[str, str]:
    return {m["name"]: m["value"] for m in item["metrics"]}


@pytest.mark.parametrize("huge", ["9223372036854775808", "1e19", "1.7e308"])
def test_values_beyond_int64_are_clamped_not_500(uncached, healed, huge):
    healed.rewrite = _every_value(huge)
    reply = uncached.get(WEB)
    assert reply.status == 200, reply.body[:300]
    metrics = _values(reply.json())
    largest = f"{MAX_INT64}m"   # NewMilliQuantity(math.MaxInt64, DecimalSI).String()
    assert metrics["success_count"] == largest
    # Every bucket holds the same huge rate, so the quantiles are the lowest bucket's interpolation: a
    # plain quantity (computed by us from the buckets, as histogram_quantile would), not an overflow.
    assert metrics["p99_response_latency"] != largest and float(metrics["p99_response_latency"].rstrip("m")) > 0
    table = uncached.get(LIST + "?includeObject=None", headers={"Accept": TABLE + ";profile=wide"})
    assert table.status == 200, table.body[:300]
    cells = [row["cells"] for row in table.json()["rows"]]
    assert cells and all(MAX_INT64 in row[-2:] for row in cells)


def _assert_bad_answer(reply: Reply) -> None:
    assert reply.status == 500, reply.body[:300]
    status = reply.json()
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "InternalError", 500)
    assert "Prometheus" in status["message"], status["message"]
    for python in ("Error:", "Traceback", "object has no attribute", "internal error:", "'NoneType'", "KeyError"):
        assert python not in status["message"], status["message"]


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                     max_leaves=8)
_BAD_SERIES = st.one_of(
    _JSON.filter(lambda v: not isinstance(v, dict)),
    st.fixed_dictionaries({"metric": _JSON.filter(lambda v: not isinstance(v, dict) and v is not None),
                           "value": st.just([1.0, "1"])}),
    st.fixed_dictionaries({"metric": st.just({"deployment": "web", "namespace": "shop"}),
                           "value": _JSON.filter(lambda v: not (isinstance(v, list) and len(v) == 2))}),
    st.fixed_dictionaries({"metric": st.just({"deployment": "web"}), "value": st.tuples(st.just(1.0), _JSON.filter(
        lambda v: not isinstance(v, str))).map(list)}),
    st.fixed_dictionaries({"metric": st.dictionaries(st.just("deployment"), _JSON.filter(
        lambda v: not isinstance(v, str)), min_size=1), "value": st.just([1.0, "1"])}),
    st.just({"metric": {"deployment": "web", "namespace": "shop"}, "value": [1.0, "not a number"]}),
)
_BAD_DATA = st.one_of(
    _BAD_SERIES.map(lambda series: {"resultType": "vector", "result": [series]}),
    _JSON.filter(lambda v: not isinstance(v, list) and v is not None).map(
        lambda result: {"resultType": "vector", "result": result}),
    _JSON.filter(lambda v: not isinstance(v, dict)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_BAD_DATA)
def test_malformed_prometheus_answers_are_a_clear_500(uncached, healed, data):
    healed.rewrite = lambda body: orjson.dumps({"status": "success", "data": data})
    _assert_bad_answer(uncached.get(WEB))


def _hang_up_after_headers(server: ServerProcess, path: str) -> int:
    """Send a GET, read the first bytes of the answer and close the connection; returns bytes read."""
    import socket
    import ssl
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, context.wrap_socket(raw) as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        return len(tls.recv(4096))


def _many_pods(body: bytes) -> bytes:
    """Every pod series 100 times under other pod names: a list answer of several chunks."""
    document = orjson.loads(body)
    data = document.get("data")
    if isinstance(data, dict) and data.get("resultType") == "vector":
        data["result"] = [{**series, "metric": {**series["metric"], "pod": f"{series['metric']['pod']}-{i}"}}
                          if "pod" in series["metric"] else series
                          for series in data["result"] for i in range(100)]
    return orjson.dumps(document)


def test_client_hanging_up_during_a_chunked_answer_is_one_debug_line(uncached, healed):
    healed.rewrite = _many_pods
    big = f"{P}/pods?includeObject=Object"
    size = len(uncached.get(big, headers={"Accept": TABLE}).body)
    assert size > 4 * (64 << 10), size   # written in chunks (server.STREAM_CHUNK)
    before = uncached.log_path.read_text()
    for _ in range(5):
        assert _hang_up_after_headers(uncached, big) > 0
    assert uncached.get("/healthz").status == 200
    log = uncached.log_path.read_text()[len(before):]
    for noise in ("ERROR", "Traceback", "socket.send() raised exception"):
        assert noise not in log, log[-3000:]


@pytest.mark.parametrize("t, window", [("%2B5m", "5m0s"), ("5m", "5m0s"), ("1.5m", "1m30s")])
def test_go_durations_with_a_sign_are_accepted(uncached, t, window):
    reply = uncached.get(f"{WEB}?t={t}")
    assert reply.status == 200, reply.body[:300]
    assert reply.json()["window"] == window


@pytest.mark.parametrize("t", ["-5m", "%D9%A3s", "%C2%B3s", "5%20m", "1e3s"])
def test_windows_go_refuses_or_out_of_range_are_400(uncached, t):
    reply = uncached.get(f"{WEB}?t={t}")
    assert reply.status == 400 and reply.json()["reason"] == "BadRequest", reply.body[:300]


@pytest.mark.parametrize("watch", ["true", "True", "TRUE", "1", "t", "yes", ""])
def test_watch_as_kube_apiserver_reads_it_is_405(uncached, watch):
    reply = uncached.get(f"{LIST}?watch={watch}")
    assert reply.status == 405 and reply.json()["reason"] == "MethodNotAllowed", (watch, reply.body[:300])


@pytest.mark.parametrize("watch", ["false", "False", "0"])
def test_watch_false_is_a_list(uncached, watch):
    assert uncached.get(f"{LIST}?watch={watch}").status == 200


def _names(reply: Reply) -> list[tuple[str, str]]:
    assert reply.status == 200, reply.body[:300]
    return [(item["metadata"].get("namespace", ""), item["metadata"]["name"]) for item in reply.json()["items"]]


def test_field_selectors_on_metadata_name_and_namespace_filter_lists(uncached):
    everything = _names(uncached.get(f"{P}/deployments"))
    assert len({ns for ns, _ in everything}) > 1 and ("shop", "web") in everything
    assert _names(uncached.get(f"{LIST}?fieldSelector=metadata.name%3Dweb")) == [("shop", "web")]
    assert _names(uncached.get(f"{LIST}?fieldSelector=metadata.name%3D%3Dweb")) == [("shop", "web")]
    others = _names(uncached.get(f"{LIST}?fieldSelector=metadata.name!%3Dweb"))
    assert others == [item for item in everything if item[0] == "shop" and item[1] != "web"]
    in_pay = _names(uncached.get(f"{P}/deployments?fieldSelector=metadata.namespace%3Dpay"))
    assert in_pay == [item for item in everything if item[0] == "pay"] and in_pay
    both = _names(uncached.get(f"{P}/deployments?fieldSelector=metadata.namespace%3Dshop,metadata.name%3Dweb"))
    assert both == [("shop", "web")]


@pytest.mark.parametrize("selector, message", [
    ("spec.replicas%3D1", '"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
    ("metadata.name%3Da%3Db", "unescaped character in value"),
    ("metadata.name%3Da%5Cx", "invalid escape sequence"),
])
def test_unsupported_or_malformed_field_selectors_are_400(uncached, selector, message):
    reply = uncached.get(f"{LIST}?fieldSelector={selector}")
    assert reply.status == 400 and message in reply.json()["message"], reply.body[:300]


def _raw_exchange(server: ServerProcess, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes over TLS, read until the server closes; the status, headers and body of the answer."""
    import socket
    import ssl
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, context.wrap_socket(raw) as tls:
        tls.sendall(request)
        chunks = []
        while chunk := tls.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


JUNK = "ZQXJUNK"
_MALFORMED = {
    "long request line": (f"GET /{JUNK}{'a' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "too many headers": ("GET /healthz HTTP/1.1\r\nHost: x\r\n" + "".join(f"X-{JUNK}-{i}: v\r\n" for i in range(200))
                         + "\r\n", 400),
    "bad bytes in the path": (f"GET /{JUNK}\x01\x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "unknown method": (f"{JUNK} /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    "long header": (f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-{JUNK}: {'b' * 20000}\r\n\r\n", 400),
}


@pytest.mark.parametrize("case", list(_MALFORMED))
def test_requests_aiohttp_cannot_parse_get_a_status_without_an_echo(uncached, case):
    request, code = _MALFORMED[case]
    before = uncached.log_path.read_text()
    status, headers, body = _raw_exchange(uncached, request.encode("latin-1"))
    assert status == code, body[:300]
    assert headers["Content-Type"].startswith("application/json"), headers
    document = orjson.loads(body)
    assert (document["kind"], document["apiVersion"], document["code"]) == ("Status", "v1", code)
    assert JUNK.encode() not in body
    log = uncached.log_path.read_text()[len(before):]
    assert "Traceback" not in log and "ERROR" not in log, log[-2000:]


def _eventually(check, timeout: float = 15.0):
    import time
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_a_window_shorter_than_two_samples_is_widened_and_reported(uncached):
    """The simulator's samples are 10 s apart (meshsim: step 10s): t=5s holds at most one sample, so
    web would vanish (404); the server learns the interval and measures over 20s instead."""
    reply = _eventually(lambda: (r := uncached.get(f"{WEB}?t=5s")).status == 200 and r)
    assert reply, "t=5s never answered 200"
    assert reply.json()["window"] == "20s"
    assert "shorter than two scrape intervals" in reply.headers["Warning"]
    assert _values(reply.json())["success_count"] != "0"
    plain = uncached.get(f"{WEB}?t=1m")
    assert plain.json()["window"] == "1m0s" and "Warning" not in plain.headers


def test_the_interval_is_learned_right_on_a_store_with_minutes_of_history(tmp_path):
    """Series only four minutes old (a fresh Prometheus or fresh proxies) hold 24 samples of the 10 s interval
    over the 10 minutes counted: read as 600 s / 26 = 23 s, a 15 s window was widened to 47 s instead of 20 s."""
    now = int(time.time())
    young = dataclasses.replace(default_scenario(now), start=now - now % 10 - 240)
    write_scenario(young, ["linkerd"], tmp_path / "tsdb")
    store = PrometheusServer(tmp_path / "tsdb").start()
    server = ServerProcess(store.url, "--mesh", "linkerd", "--cache-ttl", "0", cert_dir=tmp_path)
    try:
        reply = server.get(f"{WEB}?t=15s")
        assert reply.status == 200, reply.body[:300]
        # Learned over the last 120 s: 12 or 13 samples (both ends of the range count), 10 s or 9.2 s.
        assert reply.json()["window"] in ("19s", "20s"), reply.headers.get("Warning")
    finally:
        server.stop()
        store.stop()


def test_scrape_interval_flag_widens_the_default_window(proxy, tmp_path):
    server = ServerProcess(proxy.url, "--mesh", "linkerd", "--scrape-interval", "30", cert_dir=tmp_path)
    try:
        reply = server.get(WEB)
        assert reply.status == 200, reply.body[:300]
        assert reply.json()["window"] == "1m0s"
        assert "30s each" in reply.headers["Warning"]
    finally:
        server.stop()


async def test_query_parameters_nobody_reads_share_one_answer(prometheus):
    """Junk query strings (and Accept ranges naming the same form) are cache hits, not computations: a
    stream of them was two fifths of the server's CPU in the hostile soak (tests/perf/RESULTS.md). What
    the server does read still makes its own answer, and an invalid request is never answered from one."""
    from aiohttp.test_utils import TestClient, TestServer

    from metrics_api.cli.config import Settings
    from metrics_api.http.server import Server
    from metrics_api.store.prometheus import PrometheusClient
    from tests.support.catalog import packs

    settings = Settings(prometheus_url=prometheus.url, mesh="linkerd", local=True, cache_ttl=600)
    server = Server(settings, packs.load("linkerd"), PrometheusClient(settings.prometheus_url))
    answer, computed = server.api.answer, []

    async def counted(*args):
        computed.append(args)
        return await answer(*args)

    server.api.answer = counted
    async with TestClient(TestServer(server.application())) as client:
        async def get(query: str, accept: str = "application/json") -> tuple[int, bytes]:
            async with client.get(f"{LIST}?{query}", headers={"Accept": accept}) as response:
                return response.status, await response.read()

        first = await get("t=30s")
        junk = [await get(f"t=30s&junk={i:04d}{'x' * 200}") for i in range(30)]
        junk.append(await get("junk=1&t=30s", "application/json, */*;q=0.5"))
        assert first[0] == 200 and set(junk) == {first}
        assert len(computed) == 1
        assert (await get("t=1m"))[0] == 200 and len(computed) == 2   # a window is read: its own answer
        assert (await get("t=30s&fieldSelector=metadata.name%3Dweb"))[0] == 200 and len(computed) == 3
        status, body = await get("t=junk&junk=1")
        assert status == 400 and orjson.loads(body)["kind"] == "Status" and len(computed) == 3
