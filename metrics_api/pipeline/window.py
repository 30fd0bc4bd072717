"""Windows too short to hold two samples, widened.

`increase()` and `histogram_quantile(rate())` need two samples of a series inside the window; with a
shorter window a busy resource has no rate at all and vanishes (`t=5s` with a 10 s scrape interval was
a 404, and with a 30 s interval the default 30 s window emptied every answer). So a requested window
shorter than two scrape intervals is widened to exactly two, the answer's `window` says what was
measured, and a `Warning` header says why (docs/operations.md).

The interval is --scrape-interval, or learned from the store: LEARN_RANGE divided by the most samples a
series of the pack's `detect` selector holds over it (`max(count_over_time(...))`, plain PromQL that
Prometheus, Thanos, Mimir and VictoriaMetrics all answer). Only a series that already existed LEARN_RANGE
ago (`and <detect> offset …`) spans the whole range; a younger one (a store or proxies started minutes
ago) holds fewer samples and would look scraped less often: a 15s window was widened to 47s on a store
with four minutes of 10 s samples. Until some series is old enough, the same is asked over the shorter
YOUNGER_RANGES, and learning is retried every RETRY_SECONDS; once settled, every RELEARN_SECONDS. The first attempt is made while the server starts (bounded, so a store
that is down does not delay it)."""
from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field, replace

from metrics_api.core.background import Background
from metrics_api.core.errors import ApiError
from metrics_api.core.model import Target
from metrics_api.core.quantity import format_go_duration
from metrics_api.store.prometheus import PrometheusClient

log = logging.getLogger("metrics_api")

LEARN_RANGE = 600.0      # seconds of samples counted: many samples even at a 60 s interval
YOUNGER_RANGES = (300.0, 120.0)   # tried in turn while no series spans LEARN_RANGE yet
RELEARN_SECONDS = 3600.0  # an operator may change the scrape interval
RETRY_SECONDS = 30.0      # while the store is down or holds no pack series yet


@dataclass
class WindowFloor:
    """The shortest window that holds two samples: 2 × the scrape interval, in whole seconds."""
    prometheus: PrometheusClient
    detect: str                 # the pack's series selector
    configured: float = 0.0     # --scrape-interval; 0: learn
    timeout: float = 10.0
    interval: float | None = None
    _background: Background = field(default_factory=Background, repr=False)

    def __post_init__(self) -> None:
        if self.configured > 0:
            self.interval = self.configured

    @property
    def minimum(self) -> float:
        return math.ceil(2 * self.interval) if self.interval else 0.0

    def widen(self, target: Target) -> tuple[Target, str]:
        """`target` with its window widened to the minimum, and the Warning header value ("" if unchanged)."""
        minimum = self.minimum
        if target.window >= minimum:
            return target, ""
        warning = (f'299 - "window {format_go_duration(target.window)} is shorter than two scrape intervals '
                   f'({format_go_duration(self.interval or 0)} each): measured over {format_go_duration(minimum)}"')
        return replace(target, window=float(minimum)), warning

    async def start(self, first_timeout: float = 2.0) -> None:
        """Learn once now, within `first_timeout`, then keep learning in the background."""
        if self.configured > 0:
            return
        self.interval, settled = await self._learn(min(first_timeout, self.timeout))
        self._background.start(self._keep_learning(settled))

    async def stop(self) -> None:
        await self._background.stop()

    async def _keep_learning(self, settled: bool) -> None:
        while True:
            await asyncio.sleep(RELEARN_SECONDS if settled else RETRY_SECONDS)
            learned, settled = await self._learn(self.timeout)
            if learned and learned != self.interval:
                log.info("scrape interval of the %s series: %gs (windows shorter than %gs are widened)",
                         self.detect, learned, math.ceil(2 * learned))
            self.interval = learned or self.interval

    async def _learn(self, timeout: float) -> tuple[float | None, bool]:
        """The interval (None: unknown) and whether it was measured on series that span LEARN_RANGE."""
        for seconds in (LEARN_RANGE, *YOUNGER_RANGES):
            counted = f"count_over_time({self.detect}[{int(seconds)}s])"
            samples = await self._samples(f"max({counted} and {self.detect} offset {int(seconds)}s)", timeout)
            if samples is None:
                return None, False
            if samples >= 2:   # not NaN
                return seconds / samples, seconds == LEARN_RANGE
        return None, False

    async def _samples(self, promql: str, timeout: float) -> float | None:
        """The query's one value; 0 when it has none; None when the store cannot say."""
        try:
            series = await self.prometheus.query(promql, time.time(), timeout)
        except ApiError as exc:
            log.debug("cannot learn the scrape interval yet: %s", exc.message)
            return None
        try:
            return float(series[0]["value"][1]) if series else 0.0
        except ValueError:
            return None
