"""`--mesh auto`: pick the query pack whose series are present in the store.

Each pack names a `detect` selector that only its mesh's series match. Detection asks the store's
metadata API (`/api/v1/labels?match[]=<selector>` over the last LOOKBACK seconds: label names only,
no samples) once per pack, concurrently, and remembers the answer for CACHE_SECONDS.
Rule when several meshes match: none is guessed; detection fails naming every candidate, and the
operator passes `--mesh NAME` (a cluster migrating between meshes has both sets of series).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from metrics_api.core.errors import ApiError
from metrics_api.packs.catalog import Catalog
from metrics_api.packs.model import Pack
from metrics_api.store.prometheus import PrometheusClient

log = logging.getLogger("metrics_api")
LOOKBACK = 3600.0
CACHE_SECONDS = 60.0


class DetectionError(RuntimeError):
    pass


def choose(present: Sequence[Pack], looked_at: Sequence[Pack], store: str) -> Pack:
    """The one pack present, or a DetectionError naming what was found (or looked for)."""
    if len(present) == 1:
        return present[0]
    if not present:
        raise DetectionError(
            f"--mesh auto: no known mesh's series in {store} (looked for "
            + "; ".join(f"{p.name}: {p.detect}" for p in looked_at) + "); pass --mesh NAME")
    raise DetectionError(
        f"--mesh auto: series of several meshes found in {store} ({', '.join(p.name for p in present)}); "
        "pass --mesh NAME to choose one")


class Detector:
    """Detection against one store, its answer remembered for CACHE_SECONDS."""

    def __init__(self, catalog: Catalog, client: PrometheusClient) -> None:
        self.catalog = catalog
        self.client = client
        self._found: tuple[float, str] | None = None   # (monotonic time, detected pack name)

    async def detect(self, timeout: float = 10.0) -> Pack:
        if self._found is not None and time.monotonic() - self._found[0] < CACHE_SECONDS:
            return self.catalog.load(self._found[1])
        looked_at = self.catalog.all()
        now = time.time()
        client = self.client
        try:
            found = await asyncio.gather(*(client.series_exist(p.detect, now - LOOKBACK, now, timeout)
                                           for p in looked_at))
        except ApiError as error:
            raise DetectionError(f"--mesh auto: cannot ask {client.base_url} which mesh it holds: "
                                 f"{error.message}") from None
        for pack, exists in zip(looked_at, found):
            log.info("--mesh auto: %s series (%s) %s", pack.name, pack.detect, "present" if exists else "absent")
        pack = choose([p for p, exists in zip(looked_at, found) if exists], looked_at, client.base_url)
        self._found = (time.monotonic(), pack.name)
        return pack
