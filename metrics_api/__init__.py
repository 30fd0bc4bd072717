"""smi-metrics-api: the SMI Traffic Metrics API (metrics.smi-spec.io/v1alpha1) served from Prometheus."""

GROUP = "metrics.smi-spec.io"
VERSION = "v1alpha1"
GROUP_VERSION = f"{GROUP}/{VERSION}"
API_PREFIX = f"/apis/{GROUP_VERSION}"

__version__ = "0.1.0"
