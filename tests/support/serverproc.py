"""Run the server as users do (`python -m metrics_api serve`), in a subprocess, and talk HTTPS to it."""
from __future__ import annotations

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

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
