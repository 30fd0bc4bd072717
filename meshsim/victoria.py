"""A real single-node VictoriaMetrics on 127.0.0.1, loaded with simulated series through its
`/api/v1/import/prometheus` API (Prometheus text format: timestamps in milliseconds)."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator

from . import Renderer, openmetrics, renderer
from .process import LoopbackServer
from .scenario import Scenario

VICTORIA_METRICS = "/usr/bin/victoria-metrics"


class VictoriaMetricsServer(LoopbackServer):
    """Same life cycle as PrometheusServer: ``start()``/``stop()``, ``url``, context manager.

    ``-search.latencyOffset=0s`` so that samples up to the query time are visible (the default
    hides the last 30 s, as for data still being scraped); ``-search.disableCache`` so that a
    re-import is seen at once; ``-maxLabelsPerTimeseries=64`` because VictoriaMetrics silently drops
    labels beyond 30 per series (an Istio histogram bucket has 33: `le` would be lost).
    Logs go to ``<data_dir>/victoria-metrics.log``."""

    name = "victoria-metrics"
    ready_path = "/health"
    default_binary = VICTORIA_METRICS

    def command(self) -> list[str]:
        return [self.binary, f"-storageDataPath={self.data_dir / 'data'}", f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y", "-search.latencyOffset=0s", "-search.disableCache",
                "-maxLabelsPerTimeseries=64", "-loggerLevel=WARN"]

    def import_scenario(self, scenario: Scenario, meshes: Iterable[str | Renderer]) -> None:
        """Stream every mesh's series into the import API, then flush them to searchable storage."""
        timestamps_ms = [t * 1000 for t in scenario.timestamps()]
        for mesh in meshes:
            body = _family_chunks(renderer(mesh).families(scenario), timestamps_ms)
            request = urllib.request.Request(self.url + "/api/v1/import/prometheus", data=body, method="POST",
                                             headers={"Content-Type": "text/plain"})
            with urllib.request.urlopen(request, timeout=600) as reply:
                if reply.status not in (200, 204):
                    raise RuntimeError(f"victoria-metrics import of {renderer(mesh).name} answered HTTP {reply.status}")
        with urllib.request.urlopen(self.url + "/internal/force_flush", timeout=60):
            pass


def _family_chunks(families: Iterable[openmetrics.Family], timestamps_ms: list[int]) -> Iterator[bytes]:
    """The import body one family at a time (sent chunked), never the whole text at once."""
    for family in families:
        out = io.StringIO()
        openmetrics.write(out, [family], timestamps_ms)
        yield out.getvalue().encode()
