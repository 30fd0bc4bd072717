"""metrics.smi-spec.io/v1alpha1: the SMI Traffic Metrics API."""

GROUP = "metrics.smi-spec.io"
VERSION = "v1alpha1"
GROUP_VERSION = f"{GROUP}/{VERSION}"
API_PREFIX = f"/apis/{GROUP_VERSION}"
