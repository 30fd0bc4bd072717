"""Metric stores for the benchmarks: a real Prometheus (or VictoriaMetrics) loaded with simulated traffic.

The scale scenarios are big (Linkerd exports ~118 series per pod), so they are backfilled with a
few samples only (the last ten minutes, one a minute) and read with a one-hour window: the cost of a
query is driven by the number of series it touches, not by how many samples each holds."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from meshsim.scenario import Scenario, default_scenario, scaled_scenario
from meshsim.store import PrometheusServer, write_scenario

SCALE_STEP = 60          # seconds between samples (rps 2 × 60 is an exact integer, as the simulator needs)
SCALE_HISTORY = 600      # seconds of samples before "now"
SCALE_WINDOW = "1h"      # covers every sample for the next ~50 minutes


def scale_scenario(pods: int) -> Scenario:
    now = int(time.time())
    now -= now % SCALE_STEP
    base = scaled_scenario(pods, now=now)
    return dataclasses.replace(base, start=now - SCALE_HISTORY, end=now, step=SCALE_STEP)


def prometheus_with(scenario: Scenario, meshes: tuple[str, ...], data_dir: Path) -> PrometheusServer:
    write_scenario(scenario, meshes, data_dir)
    return PrometheusServer(data_dir).start()


def default_prometheus(data_dir: Path) -> PrometheusServer:
    return prometheus_with(default_scenario(), ("linkerd",), data_dir)
