"""Windows too short to hold two samples, widened.

`increase()` and `histogram_quantile(rate())` need two samples of a series inside the window; with a
shorter window a busy resource has no rate at all and vanishes (`t=5s` with a 10 s scrape interval was
a 404, and with a 30 s interval the default 30 s window emptied every answer). So a requested window
shorter than two scrape intervals is widened to exactly two, the answer's `window` says what was
measured, and a `Warning` header says why (docs/operations.md).

The interval is --scrape-interval, or learned from the store: the most samples any series of the pack's
`detect` selector holds over LEARN_RANGE (`max(count_over_time(...))`, plain PromQL that Prometheus,
Thanos, Mimir and VictoriaMetrics all answer), once while the server starts (bounded, so a store that is
down does not delay it), then in the background every RELEARN_SECONDS (every RETRY_SECONDS until known)."""
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
        self.interval = await self._learn(min(first_timeout, self.timeout))
        self._background.start(self._keep_learning())

    async def stop(self) -> None:
        await self._background.stop()

    async def _keep_learning(self) -> None:
        while True:
            await asyncio.sleep(RELEARN_SECONDS if self.interval else RETRY_SECONDS)
            learned = await self._learn(self.timeout)
            if learned and learned != self.interval:
                log.info("scrape interval of the %s series: %gs (windows shorter than %gs are widened)",
                         self.detect, learned, math.ceil(2 * learned))
            self.interval = learned or self.interval

    async def _learn(self, timeout: float) -> float | None:
        promql = f"max(count_over_time({self.detect}[{int(LEARN_RANGE)}s]))"
        try:
            series = await self.prometheus.query(promql, time.time(), timeout)
        except ApiError as exc:
            log.debug("cannot learn the scrape interval yet: %s", exc.message)
            return None
        try:
            samples = float(series[0]["value"][1]) if series else 0.0
        except ValueError:
            return None
        if not samples >= 2:   # NaN too
            return None
        return LEARN_RANGE / samples
