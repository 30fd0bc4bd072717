"""Backfill simulated series into a Prometheus TSDB and run a real Prometheus on it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from . import RENDERERS, openmetrics
from .scenario import Scenario

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"


def render(scenario: Scenario, meshes: Iterable[str], path: str | os.PathLike) -> int:
    """Write ``scenario`` for ``meshes`` into one OpenMetrics file; returns the series count."""
    n = 0
    with open(path, "w", buffering=1 << 20) as out:
        for mesh in meshes:
            n += openmetrics.write(out, RENDERERS[mesh].families(scenario), scenario.timestamps())
        openmetrics.write_eof(out)
    return n


def backfill(openmetrics_path: str | os.PathLike, data_dir: str | os.PathLike, promtool: str = PROMTOOL) -> None:
    """``promtool tsdb create-blocks-from openmetrics`` into ``data_dir``."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(openmetrics_path), str(data_dir)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"promtool backfill failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-2000:]}")


def write_scenario(
    scenario: Scenario, meshes: Iterable[str], data_dir: str | os.PathLike, *, keep_file: bool = False
) -> None:
    """Render and backfill each mesh on its own (in parallel, one process per CPU) into ``data_dir``.

    Each mesh becomes its own blocks; Prometheus (2.39+) queries overlapping blocks as one. The
    OpenMetrics files (``<mesh>.om``) are deleted unless ``keep_file``."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    meshes = list(meshes)
    with ProcessPoolExecutor(max_workers=min(len(meshes), os.cpu_count() or 1) or 1) as pool:
        jobs = [pool.submit(_write_mesh, scenario, mesh, data_dir, keep_file) for mesh in meshes]
        for job in jobs:
            job.result()


def _write_mesh(scenario: Scenario, mesh: str, data_dir: Path, keep_file: bool) -> None:
    path = data_dir / f"{mesh}.om"
    blocks = data_dir / f".{mesh}.blocks"
    render(scenario, [mesh], path)
    try:
        backfill(path, blocks)
        for block in blocks.iterdir():
            block.rename(data_dir / block.name)
        blocks.rmdir()
    finally:
        if not keep_file:
            path.unlink(missing_ok=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrometheusServer:
    """A real Prometheus on 127.0.0.1 serving ``data_dir`` (no scrape targets).

    Logs go to ``<data_dir>/prometheus.log``.  ``stop()`` then ``start()`` restarts
    it on the same port.  Usable as a context manager.
    """

    def __init__(
        self, data_dir: str | os.PathLike, port: int | None = None, binary: str = PROMETHEUS, ready_timeout: float = 60
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.binary = binary
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusServer:
        if self.proc is not None and self.proc.poll() is None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "prometheus.yml"
        config.write_text("global: {}\n")
        self._log = open(self.data_dir / "prometheus.log", "ab")
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.data_dir}",
                "--storage.tsdb.retention.time=3650d",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.proc.returncode}; see {self.data_dir / 'prometheus.log'}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prometheus not ready after {self.ready_timeout}s; see {self.data_dir / 'prometheus.log'}")

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

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
