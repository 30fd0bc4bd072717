"""The server's own metrics (served on /metrics), in a registry per server instance."""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.served = ServedRequests()
        r.register(self.served)
        # A plain count read at scrape time: a Gauge's inc()/dec() take a lock each, twice per request.
        self.requests_in_flight = 0
        self.in_flight = Gauge("smi_metrics_api_requests_in_flight", "API requests being served.", registry=r)
        self.in_flight.set_function(lambda: self.requests_in_flight)
        self.queries = Counter(
            "smi_metrics_api_prometheus_queries", "Queries sent to Prometheus, by outcome (ok, error code).",
            ["outcome"], registry=r)
        self.query_seconds = Histogram(
            "smi_metrics_api_prometheus_query_duration_seconds", "Prometheus query latency.",
            buckets=LATENCY_BUCKETS, registry=r)
        self.store_up = Gauge(
            "smi_metrics_api_store_up", "Whether the metrics store (Prometheus) answered the last probe (1) or not (0).",
            registry=r)
        self.cache = Counter(
            "smi_metrics_api_cache_requests",
            "Query lookups by result: hit (cached), coalesced (joined an identical query in flight), miss.",
            ["result"], registry=r)

    def request_served(self, code: int, path: str, group: str, seconds: float) -> None:
        """`group`: the API group the request was for ("" for health, discovery, /metrics and unknown paths)."""
        self.served.observe(code, group, path, seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class ServedRequests:
    """smi_metrics_api_requests_total and smi_metrics_api_request_duration_seconds, kept as plain numbers
    and turned into metric families only when /metrics is scraped. prometheus_client's Counter and
    Histogram take a lock per update: on the cached-GET path those two updates were 3 % of the server's
    CPU (py-spy, tests/perf/RESULTS.md); the event loop is one thread, so no lock is needed. The label sets
    are bounded: codes, API groups and path templates (not paths)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[int, str, str], int] = {}
        # (group, path template) → a count per LATENCY_BUCKETS bucket, then one for +Inf, then the sum
        self._latency: dict[tuple[str, str], list[float]] = {}

    def observe(self, code: int, group: str, path: str, seconds: float) -> None:
        key = (code, group, path)
        self._counts[key] = self._counts.get(key, 0) + 1
        latency = self._latency.get((group, path))
        if latency is None:
            latency = self._latency[(group, path)] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        latency[bisect_left(LATENCY_BUCKETS, seconds)] += 1   # the first bucket whose bound is ≥ seconds
        latency[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("smi_metrics_api_requests",
                                       "API requests served, by HTTP code, API group and path template.",
                                       labels=["code", "group", "path"])
        for (code, group, path), count in self._counts.items():
            requests.add_metric([str(code), group, path], count)
        yield requests
        latency = HistogramMetricFamily("smi_metrics_api_request_duration_seconds",
                                        "API request latency by API group and path template.",
                                        labels=["group", "path"])
        bounds = [*map(floatToGoString, LATENCY_BUCKETS), "+Inf"]   # "1.0", as Histogram spells them
        for (group, path), counts in self._latency.items():
            cumulative, total = [], 0.0
            for bound, count in zip(bounds, counts):
                total += count
                cumulative.append((bound, total))
            latency.add_metric([group, path], cumulative, sum_value=counts[-1])
        yield latency
