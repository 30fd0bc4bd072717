"""A minimal VictoriaMetrics runner for the benchmarks: single-node `/usr/bin/victoria-metrics` on
loopback, loaded with a simulated scenario through its Prometheus text import."""
from __future__ import annotations

import io
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from metrics_api.sim.scenario import Scenario
from metrics_api.sim.store import free_port, render

VICTORIA = "/usr/bin/victoria-metrics"
# The simulator writes OpenMetrics (timestamps in seconds); the Prometheus text format VictoriaMetrics
# imports takes milliseconds.
_SECONDS = re.compile(rb" (\d+)\n")
_CHUNK_LINES = 200_000


class VictoriaServer:
    def __init__(self, data_dir: Path, ready_timeout: float = 30.0) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> VictoriaServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "victoria.log", "ab")
        # latencyOffset=0: answer instant queries up to "now" (the default hides the last 30 s).
        self.proc = subprocess.Popen(
            [VICTORIA, f"-storageDataPath={self.data_dir}", f"-httpListenAddr=127.0.0.1:{self.port}",
             "-retentionPeriod=100y", "-search.latencyOffset=0s", "-search.disableCache"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1):
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"victoria-metrics not ready; see {self.data_dir / 'victoria.log'}")

    def load(self, scenario: Scenario, meshes: tuple[str, ...]) -> None:
        source = self.data_dir / "scenario.om"
        render(scenario, meshes, source)
        with open(source, "rb") as lines:
            chunk = io.BytesIO()
            for count, line in enumerate(lines, 1):
                if not line.startswith(b"#"):
                    chunk.write(_SECONDS.sub(rb" \g<1>000\n", line))
                if count % _CHUNK_LINES == 0:
                    self._import(chunk.getvalue())
                    chunk = io.BytesIO()
            self._import(chunk.getvalue())
        source.unlink()
        urllib.request.urlopen(self.url + "/internal/force_flush", timeout=30).read()

    def _import(self, body: bytes) -> None:
        if body:
            request = urllib.request.Request(self.url + "/api/v1/import/prometheus", data=body, method="POST")
            urllib.request.urlopen(request, timeout=120).read()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
