"""Recording rules for a store under test: written by `queries rules`, backfilled with promtool
(`tsdb create-blocks-from rules`, which evaluates them against a running Prometheus) and moved into that
Prometheus' data directory, where it reads them after a restart."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from meshsim.store import PROMTOOL, PrometheusServer
from tests.support.serverproc import REPO


def write_rules(mesh: str, out: Path, windows: str = "30s,1m,5m") -> Path:
    subprocess.run([sys.executable, "-m", "metrics_api", "queries", "rules", "--mesh", mesh, "--windows", windows,
                    "--out-dir", str(out)], cwd=REPO, check=True, capture_output=True, timeout=60)
    return out / f"{mesh}-rules.yaml"


def backfill_rules(store: PrometheusServer, rules: Path, start: int, end: int, interval: int, work: Path,
                   timeout: float = 1800) -> None:
    """Evaluate `rules` from `start` to `end` every `interval` seconds on the running `store`, then restart it
    with the recorded blocks in its data directory."""
    out = work / "recorded"
    backfill = subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "rules", f"--start={start}", f"--end={end}",
                               f"--url={store.url}", f"--output-dir={out}", f"--eval-interval={interval}s",
                               str(rules)], capture_output=True, text=True, timeout=timeout)
    assert backfill.returncode == 0, backfill.stderr[-2000:]
    store.stop()
    for block in out.iterdir():
        shutil.move(str(block), store.data_dir / block.name)
    store.start()
