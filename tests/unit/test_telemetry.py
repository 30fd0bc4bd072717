"""Our own request metrics, kept as plain numbers (core/telemetry.py ServedRequests), must expose exactly
what prometheus_client's Counter and Histogram would for the same observations."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metrics_api.core.telemetry import LATENCY_BUCKETS, Telemetry

# Values on and around every bucket bound, where `le` (≤) is easiest to get wrong.
EDGES = [b * f for b in LATENCY_BUCKETS for f in (0.999, 1.0, 1.001)]
OBSERVATION = st.tuples(st.sampled_from([200, 404, 500]), st.sampled_from(["", "metrics.smi-spec.io"]),
                        st.sampled_from(["/a", "/b"]),
                        st.one_of(st.sampled_from(EDGES), st.floats(0, 100, allow_nan=False)))


def samples(text: str, prefix: str) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name.startswith(prefix) and not s.name.endswith(("_created", "_in_flight"))}


@given(st.lists(OBSERVATION, max_size=40))
def test_served_requests_expose_what_prometheus_client_would(observations):
    telemetry = Telemetry()
    registry = CollectorRegistry()
    requests = Counter("smi_metrics_api_requests", "", ["code", "group", "path"], registry=registry)
    latency = Histogram("smi_metrics_api_request_duration_seconds", "", ["group", "path"], buckets=LATENCY_BUCKETS,
                        registry=registry)
    for code, group, path, seconds in observations:
        telemetry.request_served(code, path, group, seconds)
        requests.labels(str(code), group, path).inc()
        latency.labels(group, path).observe(seconds)

    ours = samples(telemetry.exposition().decode(), "smi_metrics_api_request")
    reference = samples(generate_latest(registry).decode(), "smi_metrics_api_request")
    assert ours.keys() == reference.keys()
    for key, value in reference.items():
        assert abs(ours[key] - value) <= 1e-9 * max(1.0, abs(value)), key
