#!/usr/bin/env python3
"""Byte-for-byte comparison of two checkouts of smi-metrics-api (issue 9: "no behaviour change").

    .venv/bin/python scripts/compare_checkouts.py --before OLD_CHECKOUT --after NEW_CHECKOUT [--out FILE]

For each mesh the simulator knows (linkerd, istio, consul, osm, kuma, cilium):

1. render the default scenario for that mesh with the simulator of the *before* checkout
   (``meshsim`` if it has one, else ``metrics_api.sim``) and backfill it into one real Prometheus;
2. start two servers in ``--local`` mode against that Prometheus, ``python -m metrics_api serve``
   run with cwd = the before checkout and cwd = the after checkout (free loopback ports, separate
   cert dirs, ``SMI_METRICS_*`` and ``PYTHONPATH`` removed from their environment);
3. send the same fixed list of requests to both, each pair back to back. A body that depends on the
   evaluation instant (the server quantizes it to ``--cache-ttl``, 5 s by default) can only be compared
   when both servers evaluated the same instant: when the bodies differ and the pair straddled an
   instant boundary (client clock before the first and after the second request, the ``timestamp``
   fields of the bodies, the ``Date`` headers), the pair is sent again at the start of a fresh instant;
4. compare status, selected headers and body bytes exactly; print one line per difference and a
   summary ``capture: N requests, M identical, K different``; exit 1 on any difference
   (2 when the harness itself cannot run, e.g. the before server does not start).

``/metrics`` is deliberately not requested (its counters differ between any two processes).
Everything started here is stopped and every temp dir removed on exit (also on Ctrl-C / SIGTERM /
the overall ``--deadline``).
"""
from __future__ import annotations

import argparse
import base64
import email.utils
import http.client
import importlib
import json
import math
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

GROUP = "metrics.smi-spec.io"
P = f"/apis/{GROUP}/v1alpha1"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
MESHES = ("linkerd", "istio", "consul", "osm", "kuma", "cilium")
# Compared exactly (absent == absent). The brief's five, plus the other headers the server sets itself
# whose values do not depend on the clock (not Date, Expires, Server, Content-Length: the body is compared).
COMPARED_HEADERS = ("Content-Type", "ETag", "Warning", "Retry-After",
                    "Location", "Cache-Control", "Vary", "X-Content-Type-Options")
TIMESTAMP_KEYS = ("timestamp", "creationTimestamp")

_INSECURE = ssl.create_default_context()
_INSECURE.check_hostname = False
_INSECURE.verify_mode = ssl.CERT_NONE


class HarnessError(Exception):
    """The comparison cannot run (not a difference between the checkouts)."""


class Deadline(Exception):
    pass


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _DiffLines:
    """Prints DIFF lines to stdout, at most `limit` of them (a badly broken checkout would flood)."""
    limit = 400
    printed = 0
    suppressed = 0

    def __call__(self, line: str) -> None:
        if self.printed < self.limit:
            self.printed += 1
            print(line, flush=True)
        else:
            self.suppressed += 1


say = _DiffLines()


# --------------------------------------------------------------------------------------------------
# the simulator and Prometheus (from the before checkout)


@dataclass
class Sim:
    RENDERERS: dict
    default_scenario: object
    write_scenario: object
    PrometheusServer: type
    origin: str


def load_sim(before: Path) -> Sim:
    """Import the simulator from the before checkout: put it first on sys.path and check where the
    modules really came from (an editable install of another checkout must not win)."""
    sys.dont_write_bytecode = True   # no __pycache__ written into the checkout
    sys.path.insert(0, str(before))
    if (before / "meshsim" / "__init__.py").exists():
        package = "meshsim"
    elif (before / "metrics_api" / "sim" / "__init__.py").exists():
        package = "metrics_api.sim"
    else:
        raise HarnessError(f"{before}: neither meshsim/ nor metrics_api/sim/ found")
    sim = importlib.import_module(package)
    scenario = importlib.import_module(f"{package}.scenario")
    store = importlib.import_module(f"{package}.store")
    for module in (sim, scenario, store):
        if not Path(module.__file__).resolve().is_relative_to(before):
            raise HarnessError(f"{module.__name__} imported from {module.__file__}, not from {before}")
    return Sim(sim.RENDERERS, scenario.default_scenario, store.write_scenario, store.PrometheusServer,
               str(Path(sim.__file__).resolve().parent))


# --------------------------------------------------------------------------------------------------
# HTTP


@dataclass(frozen=True)
class Request:
    method: str
    path: str                         # raw, as sent on the request line
    accept: str | None = None
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        text = f"{self.method} {self.path}"
        if self.accept is not None:
            text += f" [Accept: {self.accept}]"
        for name, value in self.extra:
            text += f" [{name}: {value[:20]}{'…' if len(value) > 20 else ''}]"
        return text

    def headers(self) -> dict[str, str]:
        headers = dict(self.extra)
        if self.accept is not None:
            headers["Accept"] = self.accept
        if self.method in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = "0"
        return headers


@dataclass
class Reply:
    status: int | None                # None: no answer (error says why)
    headers: dict[str, str] = field(default_factory=dict)   # compared headers + Date, names as in COMPARED_HEADERS
    body: bytes = b""
    error: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class Client:
    """One persistent HTTPS connection to one server; reconnects (once per request) when it drops."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port = port
        self.timeout = timeout
        self._conn: http.client.HTTPSConnection | None = None

    def _connection(self) -> http.client.HTTPSConnection:
        if self._conn is None:
            self._conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=_INSECURE, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def send(self, request: Request) -> Reply:
        last = ""
        for _ in range(2):
            conn = self._connection()
            try:
                conn.request(request.method, request.path, headers=request.headers())
                response = conn.getresponse()
                body = response.read()
            except (http.client.HTTPException, OSError) as error:
                last = f"{type(error).__name__}: {error}"
                self.close()
                continue
            headers = {}
            for name in (*COMPARED_HEADERS, "Date"):
                values = response.headers.get_all(name)
                if values:
                    headers[name] = ", ".join(values)
            if response.will_close:
                self.close()
            return Reply(response.status, headers, body)
        return Reply(None, error=last)


# --------------------------------------------------------------------------------------------------
# processes


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (all sockets held open at once, so no two are the same)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMI_METRICS_") and k != "PYTHONPATH"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"   # leave no __pycache__ in the checkouts
    return env


def checkout_env(checkout: Path) -> dict[str, str]:
    env = clean_env()
    if not (checkout / "metrics_api").is_dir() and (checkout / "src" / "metrics_api").is_dir():
        env["PYTHONPATH"] = str(checkout / "src")   # a src layout: cwd alone would not find it
    return env


def check_import(python: str, checkout: Path, timeout: float) -> str:
    """Where `python -m metrics_api` run from `checkout` imports the package from (must be inside it)."""
    proc = subprocess.run([python, "-c", "import metrics_api; print(metrics_api.__file__)"], cwd=checkout,
                          env=checkout_env(checkout), capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise HarnessError(f"{checkout}: import metrics_api failed: {proc.stderr.strip()[-800:]}")
    where = Path(proc.stdout.strip()).resolve()
    if not where.is_relative_to(checkout):
        raise HarnessError(f"{checkout}: `import metrics_api` finds {where}, outside the checkout")
    return str(where)


class ServerProcess:
    def __init__(self, label: str, python: str, checkout: Path, prometheus_url: str, mesh: str, workdir: Path,
                 port: int, start_timeout: float, request_timeout: float) -> None:
        self.label = label
        self.port = port
        self.cert_dir = workdir / f"certs-{label}"
        self.cert_dir.mkdir(parents=True)
        self.log_path = workdir / f"server-{label}.log"
        self._log = open(self.log_path, "ab")
        args = [python, "-m", "metrics_api", "serve", "--local", "--prometheus-url", prometheus_url,
                "--mesh", mesh, "--secure-port", str(port), "--cert-dir", str(self.cert_dir)]
        self.proc = subprocess.Popen(args, cwd=checkout, env=checkout_env(checkout), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.client = Client(port, request_timeout)
        self._start_timeout = start_timeout

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self._start_timeout
        probe = Client(self.port, 2.0)
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise HarnessError(f"{self.label} server exited with {self.proc.returncode}: {self.log_tail()}")
                if probe.send(Request("GET", "/healthz")).status == 200:
                    return
                probe.close()
                time.sleep(0.1)
        finally:
            probe.close()
        raise HarnessError(f"{self.label} server not healthy within {self._start_timeout:g}s: {self.log_tail()}")

    def log_tail(self, n: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:].strip().replace("\n", " | ")
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


# --------------------------------------------------------------------------------------------------
# the request list


def _json(reply: Reply):
    try:
        return json.loads(reply.body)
    except (ValueError, UnicodeDecodeError):
        return None


def _items(reply: Reply) -> list[dict]:
    doc = _json(reply)
    if reply.status != 200 or not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        return []
    return [item for item in doc["items"] if isinstance(item, dict)]


def _ref(item: dict) -> tuple[str | None, str] | None:
    meta = item.get("metadata") or {}
    name = meta.get("name")
    return (meta.get("namespace"), name) if isinstance(name, str) and name else None


_SUFFIXES = {"m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def _rate(item: dict) -> float:
    """The item's request_rate (a Kubernetes quantity such as 46, 991m, 1k), 0 when absent or unparsable."""
    for metric in item.get("metrics") or []:
        if metric.get("name") == "request_rate" and isinstance(metric.get("value"), str):
            text = metric["value"]
            number, suffix = (text[:-1], text[-1]) if text[-1:] in _SUFFIXES and text[-1:] else (text, "")
            try:
                return float(number) * _SUFFIXES[suffix]
            except ValueError:
                return 0.0
    return 0.0


def _busy(item: dict) -> bool:
    return _rate(item) > 0


def _busiest(items: list[dict]) -> tuple[str | None, str] | None:
    """The ref of the item with the highest request_rate (the first in list order on ties), if any is busy."""
    best = max(((_rate(item), -i, _ref(item)) for i, item in enumerate(items) if _ref(item)), default=None,
               key=lambda entry: entry[:2])
    return best[2] if best and best[0] > 0 else None


def _object_path(plural: str, ref: tuple[str | None, str]) -> str:
    namespace, name = ref
    name = quote(name, safe=".-_~")
    return f"{P}/namespaces/{quote(namespace, safe='')}/{plural}/{name}" if namespace else f"{P}/{plural}/{name}"


def fixed_requests() -> list[Request]:
    """The requests that need no knowledge of the data."""
    return [
        Request("GET", "/apis"),
        Request("GET", "/apis", accept=AGGREGATED),
        Request("GET", f"/apis/{GROUP}"),
        Request("GET", P),
        Request("GET", P + "/"),
        Request("GET", "/openapi/v2"),
        Request("GET", "/openapi/v3"),
        Request("GET", f"/openapi/v3/apis/{GROUP}/v1alpha1"),
        Request("GET", "/healthz"),
        Request("GET", f"{P}/namespaces"),
    ]


def derived_requests(discovery: Reply, lists: dict[str, Reply], v3_root: Reply, v2: Reply) -> list[Request]:
    """Everything else, built from the before server's discovery and list answers only (so the list is
    the same for both servers and, the data being deterministic, the same on every run)."""
    requests: list[Request] = []
    doc = _json(discovery) or {}
    resources = {r.get("name") for r in doc.get("resources", []) if isinstance(r, dict)}
    plurals = [name for name in sorted(resources) if name and "/" not in name and name != "namespaces"]

    # OpenAPI extras: the v3 group document by its current and a stale hash, and If-None-Match → 304.
    served = ((_json(v3_root) or {}).get("paths") or {}).get(f"apis/{GROUP}/v1alpha1", {}).get("serverRelativeURL")
    if isinstance(served, str) and served.startswith("/openapi/"):
        requests.append(Request("GET", served))
    requests.append(Request("GET", f"/openapi/v3/apis/{GROUP}/v1alpha1?hash=0123ABCD"))
    etag = v2.header("ETag")
    if etag:
        requests.append(Request("GET", "/openapi/v2", extra=(("If-None-Match", etag),)))

    # Namespaces (cluster-scoped kind): one with traffic, its edges.
    namespaces = [r for r in map(_ref, _items(lists["namespaces"])) if r]
    busy_ns = _busiest(_items(lists["namespaces"]))
    ns_ref = busy_ns or (namespaces[0] if namespaces else (None, "shop"))
    home = ns_ref[1]   # the namespace the namespaced requests use
    requests.append(Request("GET", _object_path("namespaces", ns_ref)))
    if "namespaces/edges" in resources:
        requests.append(Request("GET", _object_path("namespaces", ns_ref) + "/edges"))

    # Every namespaced plural (its list across namespaces was sent before this list was built): the
    # busiest-first object, its edges, an idle object if any.
    chosen_by_plural: dict[str, tuple[str | None, str]] = {}
    for plural in plurals:
        items = _items(lists[plural])
        busy = _busiest(items)
        idle = next((r for item in items if not _busy(item) and (r := _ref(item))), None)
        chosen = busy or idle
        if chosen is None:
            continue
        chosen_by_plural[plural] = chosen
        requests.append(Request("GET", _object_path(plural, chosen)))
        if f"{plural}/edges" in resources:
            requests.append(Request("GET", _object_path(plural, chosen) + "/edges"))
        if idle is not None and idle != chosen:
            requests.append(Request("GET", _object_path(plural, idle)))
    # The object the windows, tables and errors use: a Deployment if the pack serves them, else any workload.
    primary = next(((p, chosen_by_plural[p]) for p in ("deployments", "trafficmetrics", *plurals)
                    if p in chosen_by_plural), None)
    if primary is not None and primary[1][0]:
        home = primary[1][0]

    # Lists of one namespace; a name with a dot if the data has one.
    for plural in plurals:
        if plural in ("deployments", "trafficmetrics", "pods", "services"):
            requests.append(Request("GET", f"{P}/namespaces/{home}/{plural}"))
    for plural in plurals:
        dotted = next((r for item in _items(lists[plural]) if (r := _ref(item)) and "." in r[1]), None)
        if dotted:
            requests.append(Request("GET", _object_path(plural, dotted)))
            break

    if primary is not None:
        plural, ref = primary
        target = _object_path(plural, ref)
        namespace_list = f"{P}/namespaces/{ref[0]}/{plural}" if ref[0] else f"{P}/{plural}"
        # Windows.
        for window in ("30s", "1m", "5m", "45s"):
            requests.append(Request("GET", f"{target}?t={window}"))
        requests.append(Request("GET", f"{namespace_list}?t=1m"))
        # Tables.
        requests.append(Request("GET", namespace_list, accept=TABLE))
        requests.append(Request("GET", namespace_list + "?includeObject=None", accept=TABLE))
        requests.append(Request("GET", namespace_list + "?includeObject=Object", accept=TABLE))
        requests.append(Request("GET", target, accept=TABLE))
        if f"{plural}/edges" in resources:
            requests.append(Request("GET", target + "/edges", accept=TABLE))
        # Errors.
        requests += [
            Request("GET", f"{target}?t=0s"),
            Request("GET", f"{target}?t=abc"),
            Request("GET", f"{target}?t=25h"),
            Request("GET", namespace_list + "?includeObject=Everything", accept=TABLE),
            Request("GET", f"{namespace_list}?labelSelector=app%3Dweb"),
            Request("GET", f"{namespace_list}?watch=true"),
            Request("GET", target, accept="text/html"),
            Request("POST", target),
            Request("DELETE", target),
        ]
        base = namespace_list
        requests += [
            Request("GET", f"{base}/%22{quote(ref[1], safe='.-_~')}%22"),
            Request("GET", f'{base}/"x"'),
            Request("GET", f"{base}/Not_Valid"),
            Request("GET", f"{base}/no-such-workload"),
        ]
        if ref[0]:
            requests.append(Request("GET", f"{P}/namespaces/Bad_NS/{plural}"))
    requests += [
        Request("GET", f"{P}/nosuchplural"),
        Request("GET", f"{P}/namespaces/{home}/nosuchplural/x"),
        Request("GET", "/no/such/path"),
        Request("GET", "/openapi/v2", accept="text/html"),
        Request("GET", "/openapi/v4"),
    ]
    seen: set[Request] = set()
    unique = []
    for request in requests:
        if request not in seen:
            seen.add(request)
            unique.append(request)
    return unique


# --------------------------------------------------------------------------------------------------
# comparison


def _timestamps(reply: Reply) -> set[str]:
    found: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                if key in TIMESTAMP_KEYS and isinstance(child, str):
                    found.add(child)
                else:
                    walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    walk(_json(reply))
    return found


def _date_instant(reply: Reply, ttl: float) -> float | None:
    date = reply.header("Date")
    if not date or ttl <= 0:
        return None
    try:
        return math.floor(email.utils.parsedate_to_datetime(date).timestamp() / ttl)
    except (TypeError, ValueError):
        return None


def different_instants(a: Reply, b: Reply, t0: float, t1: float, ttl: float) -> str:
    """Why the two answers may have been computed for different evaluation instants ('' if they were not)."""
    reasons = []
    if ttl > 0 and math.floor(t0 / ttl) != math.floor(t1 / ttl):
        reasons.append("pair straddled an instant boundary")
    ta, tb = _timestamps(a), _timestamps(b)
    if ta != tb:
        reasons.append(f"timestamps {sorted(ta)[:2]} vs {sorted(tb)[:2]}")
    da, db = _date_instant(a, ttl), _date_instant(b, ttl)
    if da is not None and db is not None and da != db:
        reasons.append("Date headers in different instants")
    return "; ".join(reasons)


def _short(value, limit: int = 90) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


def _json_diffs(a, b, path: str = "$", out: list | None = None, limit: int = 3) -> list[str]:
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            if set(a) == set(b):
                out.append(f"{path}: key order {list(a)} vs {list(b)}")
                return out
            only_a, only_b = [k for k in a if k not in b], [k for k in b if k not in a]
            out.append(f"{path}: keys only before {only_a}, only after {only_b}")
        for key in a:
            if key in b:
                _json_diffs(a[key], b[key], f"{path}.{key}", out, limit)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} vs {len(b)} items")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _json_diffs(x, y, f"{path}[{i}]", out, limit)
    elif a != b or type(a) is not type(b):
        out.append(f"{path}: {_short(a)} vs {_short(b)}")
    return out


def body_diff(a: bytes, b: bytes) -> str:
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    where = f"{len(a)} vs {len(b)} bytes, first difference at byte {i}"
    try:
        ja, jb = json.loads(a), json.loads(b)
    except (ValueError, UnicodeDecodeError):
        ja = jb = None
    if ja is not None or jb is not None:
        diffs = _json_diffs(ja, jb)
        if diffs:
            return f"{where}: " + "; ".join(diffs)
        return f"{where}: same JSON, different serialization: {a[max(0, i - 30):i + 50]!r} vs {b[max(0, i - 30):i + 50]!r}"
    return f"{where}: {a[max(0, i - 30):i + 50]!r} vs {b[max(0, i - 30):i + 50]!r}"


def compare(a: Reply, b: Reply) -> list[str]:
    """What differs, one entry per aspect."""
    if b.status is None:
        return [f"after: no answer ({b.error})"]
    if a.status is None:
        return [f"before: no answer ({a.error})"]
    diffs = []
    if a.status != b.status:
        diffs.append(f"status {a.status} vs {b.status}")
    for name in COMPARED_HEADERS:
        if a.header(name) != b.header(name):
            diffs.append(f"header {name}: {_short(a.header(name) or '(absent)')!s} vs {_short(b.header(name) or '(absent)')!s}")
    if a.body != b.body:
        diffs.append("body: " + body_diff(a.body, b.body))
    return diffs


def wait_fresh_instant(ttl: float, margin: float = 0.05) -> None:
    if ttl <= 0:
        return
    now = time.time()
    time.sleep((math.floor(now / ttl) + 1) * ttl + margin - now)


@dataclass
class Outcome:
    mesh: str
    request: Request
    before: Reply
    after: Reply
    diffs: list[str]
    attempts: int
    instants: str


def run_pair(mesh: str, request: Request, before: ServerProcess, after: ServerProcess | None,
             ttl: float, retries: int, straddle: bool = False) -> Outcome:
    """`straddle` (harness self-test): the first attempt sends the after request in the next instant."""
    attempt = 0
    while True:
        attempt += 1
        t0 = time.time()
        a = before.client.send(request)
        if straddle and attempt == 1:
            wait_fresh_instant(ttl)
        b = after.client.send(request) if after is not None else Reply(None, error="after server not running")
        t1 = time.time()
        if a.status is None:
            raise HarnessError(f"{mesh}: before server gave no answer to {request.label}: {a.error}; "
                               f"log: {before.log_tail()}")
        diffs = compare(a, b)
        instants = different_instants(a, b, t0, t1, ttl) if diffs and b.status is not None else ""
        if not diffs or not instants or attempt > retries:
            return Outcome(mesh, request, a, b, diffs, attempt, instants)
        wait_fresh_instant(ttl)


def record(out, outcome: Outcome) -> None:
    reply = outcome.before
    try:
        body: dict = {"body": reply.body.decode("utf-8")}
    except UnicodeDecodeError:
        body = {"body_base64": base64.b64encode(reply.body).decode()}
    line = {"mesh": outcome.mesh, "method": outcome.request.method, "path": outcome.request.path,
            "request_headers": outcome.request.headers(), "status": reply.status,
            "headers": {k: v for k, v in reply.headers.items() if k != "Date"}, **body,
            "identical": not outcome.diffs, "attempts": outcome.attempts}
    out.write(json.dumps(line, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------------------------------
# one mesh


def run_mesh(mesh: str, args, sim: Sim, scenario, workroot: Path, out) -> list[Outcome]:
    work = workroot / mesh
    data = work / "prometheus"
    started = time.monotonic()
    sim.write_scenario(scenario, [mesh], data)
    backfilled = time.monotonic() - started
    prometheus = sim.PrometheusServer(data, ready_timeout=args.start_timeout)
    servers: list[ServerProcess] = []
    try:
        prometheus.start()
        log(f"{mesh}: Prometheus {prometheus.url} ready (backfill {backfilled:.1f}s, "
            f"total {time.monotonic() - started:.1f}s)")
        port_before, port_after = free_ports(2)
        before = ServerProcess("before", args.python, args.before, prometheus.url, mesh, work, port_before,
                               args.start_timeout, args.request_timeout)
        servers.append(before)
        after: ServerProcess | None = ServerProcess("after", args.python, args.after, prometheus.url, mesh, work,
                                                    port_after, args.start_timeout, args.request_timeout)
        servers.append(after)
        before.wait_healthy()
        try:
            after.wait_healthy()
        except HarnessError as error:   # the after checkout is what is under test: report, go on
            say(f"DIFF {mesh} (server start): {error}")
            after = None

        outcomes: list[Outcome] = []

        def run(request: Request) -> Outcome:
            straddle = len(outcomes) < args.test_straddle
            outcome = run_pair(mesh, request, before, after, args.cache_ttl, args.retries, straddle)
            outcomes.append(outcome)
            for diff in outcome.diffs:
                note = f" (after {outcome.attempts} attempts; {outcome.instants})" if outcome.instants else ""
                say(f"DIFF {mesh} {request.label}: {diff}{note}")
            if out is not None:
                record(out, outcome)
            return outcome

        fixed = {request: run(request) for request in fixed_requests()}
        discovery = fixed[Request("GET", P)].before
        resources = [r.get("name") for r in (_json(discovery) or {}).get("resources", []) if isinstance(r, dict)]
        lists = {"namespaces": fixed[Request("GET", f"{P}/namespaces")].before}
        for plural in sorted(n for n in resources if n and "/" not in n and n != "namespaces"):
            lists[plural] = run(Request("GET", f"{P}/{plural}")).before
        already = {o.request for o in outcomes}
        for request in derived_requests(discovery, lists, fixed[Request("GET", "/openapi/v3")].before,
                                        fixed[Request("GET", "/openapi/v2")].before):
            if request not in already:
                run(request)
        retried = sum(1 for o in outcomes if o.attempts > 1)
        different = sum(1 for o in outcomes if o.diffs)
        log(f"{mesh}: {len(outcomes)} requests, {len(outcomes) - different} identical, {different} different"
            f" ({retried} pairs re-sent at a fresh instant)")
        return outcomes
    finally:
        for server in servers:
            server.stop()
        prometheus.stop()


# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, type=Path, help="checkout of the original code")
    parser.add_argument("--after", required=True, type=Path, help="checkout of the reorganized code")
    parser.add_argument("--out", type=Path, help="write every before answer here (JSON lines)")
    parser.add_argument("--mesh", action="append", choices=MESHES, help="only these meshes (repeatable)")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs the servers")
    parser.add_argument("--cache-ttl", type=float, default=5.0, help="the servers' --cache-ttl (their default)")
    parser.add_argument("--retries", type=int, default=3, help="re-sends of a pair computed at different instants")
    parser.add_argument("--start-timeout", type=float, default=60.0, help="seconds for Prometheus / a server to start")
    parser.add_argument("--request-timeout", type=float, default=30.0, help="seconds per HTTP request")
    parser.add_argument("--deadline", type=float, default=1200.0, help="seconds the whole run may take")
    parser.add_argument("--test-straddle", type=int, default=0, metavar="N",
                        help="harness self-test: send the first N pairs of each mesh across an instant boundary "
                             "(their time-dependent answers must then be re-sent and end identical)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, certs, TSDB)")
    parser.add_argument("--max-diff-lines", type=int, default=400, help="most DIFF lines printed")
    args = parser.parse_args(argv)
    say.limit = args.max_diff_lines
    args.before, args.after = args.before.resolve(), args.after.resolve()
    meshes = args.mesh or list(MESHES)

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    def on_alarm(signum, frame):
        raise Deadline(f"run exceeded --deadline {args.deadline:g}s")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(max(1, int(args.deadline)))
    workroot = Path(tempfile.mkdtemp(prefix="smi-capture-"))
    out = open(args.out, "w") if args.out else None
    outcomes: list[Outcome] = []
    try:
        for checkout in (args.before, args.after):
            where = check_import(args.python, checkout, 60)
            log(f"{checkout}: metrics_api from {where}")
        sim = load_sim(args.before)
        log(f"simulator: {sim.origin}")
        scenario = sim.default_scenario()   # one `now` for every mesh
        for mesh in meshes:
            if mesh not in sim.RENDERERS:
                raise HarnessError(f"the before simulator has no renderer for {mesh}")
            outcomes += run_mesh(mesh, args, sim, scenario, workroot, out)
    except (HarnessError, Deadline, subprocess.TimeoutExpired) as error:
        print(f"capture: harness error: {error}", flush=True)
        return 2
    except KeyboardInterrupt as error:
        print(f"capture: interrupted ({error})", flush=True)
        return 130
    finally:
        signal.alarm(0)
        if out is not None:
            out.close()
        if args.keep:
            log(f"kept {workroot}")
        else:
            shutil.rmtree(workroot, ignore_errors=True)
    if say.suppressed:
        print(f"({say.suppressed} more DIFF lines not shown; --max-diff-lines)", flush=True)
    different = sum(1 for o in outcomes if o.diffs)
    print(f"capture: {len(outcomes)} requests, {len(outcomes) - different} identical, {different} different",
          flush=True)
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
