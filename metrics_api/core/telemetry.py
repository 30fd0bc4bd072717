"""The server's own metrics (served on /metrics), in a registry per server instance."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "smi_metrics_api_requests", "API requests served, by HTTP code, API group and path template.",
            ["code", "group", "path"], registry=r)
        self.request_seconds = Histogram(
            "smi_metrics_api_request_duration_seconds", "API request latency by API group and path template.",
            ["group", "path"], buckets=LATENCY_BUCKETS, registry=r)
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

        # (code, group, path template) → the children of `requests` and `request_seconds`: `.labels()` costs a
        # few µs per call on the cached-GET path; the set of keys is the same as the metrics' own label sets.
        self._served: dict[tuple[int, str, str], tuple[Counter, Histogram]] = {}

    def request_served(self, code: int, path: str, group: str, seconds: float) -> None:
        """`group`: the API group the request was for ("" for health, discovery, /metrics and unknown paths)."""
        key = (code, group, path)
        children = self._served.get(key)
        if children is None:
            children = self._served[key] = (self.requests.labels(str(code), group, path),
                                            self.request_seconds.labels(group, path))
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
