"""Run the server as users do (`python -m metrics_api serve`), in a subprocess, and talk HTTPS to it."""
from __future__ import annotations

import http.client
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from meshsim.process import free_port

REPO = Path(__file__).resolve().parents[2]
_INSECURE = ssl.create_default_context()
_INSECURE.check_hostname = False
_INSECURE.verify_mode = ssl.CERT_NONE


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def https_request(url: str, *, method: str = "GET", headers: dict[str, str] | None = None,
                  timeout: float = 30.0, tls: ssl.SSLContext | None = None) -> Reply:
    """`tls`: a client context (e.g. presenting a client certificate); default: no certificate, no verification."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, context=tls or _INSECURE, timeout=timeout) as response:
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers), error.read())


class KeptAlive:
    """GETs to one server over one kept-alive HTTPS connection, opened again when the server had closed
    it. A TLS handshake per request costs ~7 ms of CPU here, a request on an open connection ~0.5 ms:
    for suites that send thousands of requests."""

    def __init__(self, port: int, tls: ssl.SSLContext | None = None, timeout: float = 30.0) -> None:
        self._open = lambda: http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=tls or _INSECURE)
        self._connection: http.client.HTTPSConnection | None = None

    def get(self, path: str) -> Reply:
        reused = self._connection is not None
        try:
            return self._get(path)
        except OSError as error:   # RemoteDisconnected, resets, broken pipes: the server closed an idle connection
            self.close()
            if not reused or isinstance(error, TimeoutError):
                raise
            return self._get(path)

    def _get(self, path: str) -> Reply:
        if self._connection is None:
            self._connection = self._open()
        self._connection.request("GET", path)
        response = self._connection.getresponse()
        reply = Reply(response.status, dict(response.headers), response.read())
        if response.will_close:
            self.close()
        return reply

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@contextmanager
def server_pool(make: Callable[..., "ServerProcess"]) -> Iterator[Callable[..., "ServerProcess"]]:
    """`start(*key)` runs `make(*key)` once per distinct key and returns that server; all stop on exit."""
    started: dict[tuple, ServerProcess] = {}

    def start(*key) -> ServerProcess:
        if key not in started:
            started[key] = make(*key)
        return started[key]

    try:
        yield start
    finally:
        for server in started.values():   # all shut down together (~0.2 s each)
            server.terminate()
        for server in started.values():
            server.stop()


class ServerProcess:
    def __init__(self, prometheus_url: str, *extra: str, cert_dir: Path, env: dict[str, str] | None = None,
                 local: bool = True, command: tuple[str, ...] = (sys.executable, "-m", "metrics_api"),
                 cwd: Path = REPO):
        """`local=False`: cluster mode; pass `--kubeconfig` and `--bind-address 127.0.0.1` in `extra`.
        `command`/`cwd`: another installation of the server (e.g. a wheel in its own virtualenv)."""
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.log_path = cert_dir / f"server-{self.port}.log"
        mode = ["--local"] if local else []
        args = [*command, "serve", *mode, "--prometheus-url", prometheus_url,
                "--secure-port", str(self.port), "--cert-dir", str(cert_dir), *extra]
        self._log = open(self.log_path, "ab")
        self._terminated = False
        self.proc = subprocess.Popen(args, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})
        self._wait()

    def _wait(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.log_path.read_text()[-2000:]}")
            try:
                if self.get("/healthz").status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server not healthy within {timeout}s: {self.log_path.read_text()[-2000:]}")

    def get(self, path: str, **options) -> Reply:
        return https_request(self.url + path, **options)

    def terminate(self) -> None:
        """Ask the server to shut down (one SIGTERM) without waiting for it."""
        if self.proc.poll() is None and not self._terminated:
            self.proc.terminate()
            self._terminated = True

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
