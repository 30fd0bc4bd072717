"""external.metrics.k8s.io v1beta1: a metric named by labels, for HPA `External` metrics and Flagger."""

GROUP = "external.metrics.k8s.io"
VERSION = "v1beta1"
API_PREFIX = f"/apis/{GROUP}/{VERSION}"
