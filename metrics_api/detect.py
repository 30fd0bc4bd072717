"""`--mesh auto`: pick the query pack whose series are present in Prometheus."""
from __future__ import annotations

import asyncio
import time

from . import packs
from .errors import ApiError
from .packs import Pack
from .prometheus import PrometheusClient


class DetectionError(RuntimeError):
    pass


async def detect(client: PrometheusClient, timeout: float = 10.0) -> Pack:
    candidates = [packs.load(name) for name in packs.available()]
    now = time.time()
    try:
        found = await asyncio.gather(*(client.query(f"count({p.detect})", now, timeout) for p in candidates))
    except ApiError as error:
        raise DetectionError(f"--mesh auto: cannot ask Prometheus which mesh it holds: {error.message}") from None
    present = [pack for pack, result in zip(candidates, found) if result]
    if len(present) == 1:
        return present[0]
    if not present:
        raise DetectionError(
            f"--mesh auto: no known mesh's series in {client.base_url} (looked for "
            + "; ".join(f"{p.name}: {p.detect}" for p in candidates) + "); pass --mesh NAME")
    raise DetectionError(
        f"--mesh auto: series of several meshes found ({', '.join(p.name for p in present)}); "
        "pass --mesh NAME to choose one")
