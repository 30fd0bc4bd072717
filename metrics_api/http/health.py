"""Health endpoints as kube-apiserver answers them, and the metrics store's reachability.

Readiness says whether *we* can serve (CONTRACT §2): by the time the listener is open the query pack,
the serving certificate and the authentication configuration are loaded, so /readyz fails only while
shutting down. It must not follow Prometheus: kube-aggregator marks an APIService without a ready
endpoint unavailable, and that breaks discovery for the whole cluster. The store's state is probed on
demand (cached a few seconds) and reported in `/readyz?verbose` and as a gauge on /metrics, never as a failure."""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from metrics_api.core.singleflight import SingleFlight
from metrics_api.core.telemetry import Telemetry
from metrics_api.store.prometheus import PrometheusClient

log = logging.getLogger("metrics_api")

PROBE_SECONDS = 5.0   # a probe result is reused this long
# What readiness consists of: each is settled before the listener opens (app.serve, http.server.run).
STARTUP_CHECKS = ("ping", "query-pack", "serving-certificate", "authentication")
_NOSNIFF = {"X-Content-Type-Options": "nosniff"}


@dataclass
class StoreProbe:
    """Whether the metrics store answers a trivial query. Probed when asked (`/readyz?verbose`, a scrape
    of /metrics) and reused for PROBE_SECONDS, so an idle server sends the store nothing."""
    prometheus: PrometheusClient
    telemetry: Telemetry
    timeout: float
    reachable: bool | None = None   # None: not probed yet
    _probed_at: float = field(default=-PROBE_SECONDS, repr=False)
    _flights: SingleFlight[str, bool] = field(default_factory=SingleFlight, repr=False)

    async def refresh(self) -> bool:
        if time.monotonic() - self._probed_at >= PROBE_SECONDS:
            await self._flights.run("probe", self._probe)
        return bool(self.reachable)

    async def _probe(self) -> bool:
        reachable = await self.prometheus.ready(timeout=self.timeout)
        if self.reachable is not None and reachable != self.reachable:
            log.warning("Prometheus at %s is %s", self.prometheus.base_url,
                        "reachable again" if reachable else "unreachable: API requests answer 503")
        self.reachable, self._probed_at = reachable, time.monotonic()
        self.telemetry.store_up.set(1 if reachable else 0)
        return reachable


async def health_response(path: str, query: Mapping[str, str], shutting_down: bool, store: StoreProbe) -> web.Response:
    """`/healthz`, `/livez`: the process answers. `/readyz`: and is not shutting down. `?verbose` lists the
    checks as kube-apiserver does (`[+]ping ok` …), with the store's state as information."""
    failed = path == "/readyz" and shutting_down
    if "verbose" not in query:
        if failed:
            return web.Response(status=500, text="[-]shutdown failed: reason withheld\nreadyz check failed\n")
        return web.Response(text="ok", headers=_NOSNIFF)
    lines = [f"[+]{check} ok" for check in STARTUP_CHECKS]
    if path == "/readyz":
        lines.append("[-]shutdown failed: reason withheld" if failed else "[+]shutdown ok")
        await store.refresh()
        lines.append(f"[+]prometheus {_store_state(store.reachable)}")
    lines.append(f"{path[1:]} check {'failed' if failed else 'passed'}")
    return web.Response(status=500 if failed else 200, text="\n".join(lines) + "\n", headers=_NOSNIFF)


def _store_state(reachable: bool | None) -> str:
    if reachable:
        return "reachable (informational: readiness does not depend on it)"
    return "unreachable (informational: readiness does not depend on it; API requests answer 503)"
