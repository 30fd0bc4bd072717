"""A real single-node VictoriaMetrics on 127.0.0.1, loaded with simulated series through its
`/api/v1/import/prometheus` API (Prometheus text format: timestamps in milliseconds)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

from . import RENDERERS, openmetrics
from .scenario import Scenario
from .store import free_port

VICTORIA_METRICS = "/usr/bin/victoria-metrics"


class VictoriaMetricsServer:
    """Same life cycle as PrometheusServer: ``start()``/``stop()``, ``url``, context manager.

    ``-search.latencyOffset=0s`` so that samples up to the query time are visible (the default
    hides the last 30 s, as for data still being scraped); ``-search.disableCache`` so that a
    re-import is seen at once; ``-maxLabelsPerTimeseries=64`` because VictoriaMetrics silently drops
    labels beyond 30 per series (an Istio histogram bucket has 33: `le` would be lost).
    Logs go to ``<data_dir>/victoria-metrics.log``."""

    def __init__(self, data_dir: str | os.PathLike, port: int | None = None, binary: str = VICTORIA_METRICS,
                 ready_timeout: float = 60) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.binary = binary
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> VictoriaMetricsServer:
        if self.proc is not None and self.proc.poll() is None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.data_dir / "victoria-metrics.log", "ab")
        self.proc = subprocess.Popen(
            [self.binary, f"-storageDataPath={self.data_dir / 'data'}", f"-httpListenAddr=127.0.0.1:{self.port}",
             "-retentionPeriod=100y", "-search.latencyOffset=0s", "-search.disableCache", "-maxLabelsPerTimeseries=64", "-loggerLevel=WARN"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"victoria-metrics exited with {self.proc.returncode}; see {self._log.name}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as reply:
                    if reply.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"victoria-metrics not ready after {self.ready_timeout}s; see {self._log.name}")

    def import_scenario(self, scenario: Scenario, meshes: Iterable[str]) -> None:
        """Stream every mesh's series into the import API, then flush them to searchable storage."""
        timestamps_ms = [t * 1000 for t in scenario.timestamps()]
        for mesh in meshes:
            body = _family_chunks(RENDERERS[mesh].families(scenario), timestamps_ms)
            request = urllib.request.Request(self.url + "/api/v1/import/prometheus", data=body, method="POST",
                                             headers={"Content-Type": "text/plain"})
            with urllib.request.urlopen(request, timeout=600) as reply:
                if reply.status not in (200, 204):
                    raise RuntimeError(f"victoria-metrics import of {mesh} answered HTTP {reply.status}")
        with urllib.request.urlopen(self.url + "/internal/force_flush", timeout=60):
            pass

    def stop(self, timeout: float = 10) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> VictoriaMetricsServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _family_chunks(families: Iterable[openmetrics.Family], timestamps_ms: list[int]) -> Iterator[bytes]:
    """The import body one family at a time (sent chunked), never the whole text at once."""
    for family in families:
        out = io.StringIO()
        openmetrics.write(out, [family], timestamps_ms)
        yield out.getvalue().encode()
