"""Which of the pack's recording rules (packs/rules.py) the store holds now.

One metadata query (`/api/v1/label/__name__/values?match[]=smi:<mesh>_.*` over the last LOOKBACK
seconds) at most every REFRESH_SECONDS, shared by concurrent requests. A (source, window) is used only
when both its counts and its buckets are recorded; when the store cannot say, nothing is used and
requests read the raw series, as they would without rules.
"""
from __future__ import annotations

import asyncio
import logging
import time

from metrics_api.core.errors import ApiError
from metrics_api.core.model import Measure
from metrics_api.core.singleflight import SingleFlight
from metrics_api.packs.model import Pack
from metrics_api.packs.rules import Recording, parse_record_name, record_selector
from metrics_api.pipeline.plan import NOTHING_RECORDED, Recorded
from metrics_api.store.prometheus import PrometheusClient

log = logging.getLogger("metrics_api")
REFRESH_SECONDS = 60.0
LOOKBACK = 600.0   # a recording not written for 10 minutes is not trusted (its rules were removed)
TIMEOUT = 5.0


class Recordings:
    def __init__(self, pack: Pack, client: PrometheusClient) -> None:
        self.pack = pack
        self.client = client
        self._recorded: Recorded = NOTHING_RECORDED
        self._checked_at = -REFRESH_SECONDS
        self._flight: SingleFlight[str, Recorded] = SingleFlight()
        self._task: asyncio.Future[Recorded] | None = None   # the check in flight, kept referenced

    async def available(self) -> Recorded:
        """What the last check found. A stale answer starts a new check in the background and is used
        meanwhile: a request never waits for it (nor for a slow store's metadata API)."""
        if time.monotonic() - self._checked_at >= REFRESH_SECONDS and not self._flight.in_flight("refresh"):
            self._checked_at = time.monotonic()   # one check per REFRESH_SECONDS, even when it fails
            self._task = asyncio.ensure_future(self._flight.run("refresh", self._refresh))
        return self._recorded

    async def _refresh(self) -> Recorded:
        now = time.time()
        try:
            names = await self.client.label_values("__name__", record_selector(self.pack), now - LOOKBACK, now,
                                                   TIMEOUT)
        except ApiError as error:
            log.debug("recording rules not checked: %s", error.message)
            names = []
        found = {(r.source, r.measure, r.window) for r in map(self._parse, names) if r is not None}
        recorded = frozenset((source, window) for source, measure, window in found
                             if measure is Measure.COUNTS and (source, Measure.BUCKETS, window) in found)
        if recorded != self._recorded:
            log.info("recording rules in use for %s", sorted(recorded) or "no source")
        self._recorded, self._checked_at = recorded, time.monotonic()
        return recorded

    def _parse(self, name: str) -> Recording | None:
        return parse_record_name(self.pack, name)
