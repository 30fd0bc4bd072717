"""Backfill simulated series into a Prometheus TSDB and run a real Prometheus on it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from . import Renderer, openmetrics, renderer
from .process import LoopbackServer
from .scenario import Scenario

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"


def render(scenario: Scenario, meshes: Iterable[str | Renderer], path: str | os.PathLike) -> int:
    """Write ``scenario`` for ``meshes`` (variant names or Renderers) into one OpenMetrics file; returns
    the series count."""
    n = 0
    with open(path, "w", buffering=1 << 20) as out:
        for mesh in meshes:
            n += openmetrics.write(out, renderer(mesh).families(scenario), scenario.timestamps())
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
    scenario: Scenario, meshes: Iterable[str | Renderer], data_dir: str | os.PathLike, *, keep_file: bool = False
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


def _write_mesh(scenario: Scenario, mesh: str | Renderer, data_dir: Path, keep_file: bool) -> None:
    name = renderer(mesh).name
    path = data_dir / f"{name}.om"
    blocks = data_dir / f".{name}.blocks"
    render(scenario, [mesh], path)
    try:
        backfill(path, blocks)
        for block in blocks.iterdir():
            block.rename(data_dir / block.name)
        blocks.rmdir()
    finally:
        if not keep_file:
            path.unlink(missing_ok=True)


class PrometheusServer(LoopbackServer):
    """A real Prometheus on 127.0.0.1 serving ``data_dir`` (no scrape targets)."""

    name = "prometheus"
    ready_path = "/-/ready"
    default_binary = PROMETHEUS

    def command(self) -> list[str]:
        config = self.data_dir / "prometheus.yml"
        config.write_text("global: {}\n")
        return [self.binary, f"--config.file={config}", f"--storage.tsdb.path={self.data_dir}",
                "--storage.tsdb.retention.time=3650d", f"--web.listen-address=127.0.0.1:{self.port}"]
