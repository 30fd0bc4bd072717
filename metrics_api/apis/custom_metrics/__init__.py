"""custom.metrics.k8s.io v1beta2 and v1beta1: per-object metrics for HPA `Object` and `Pods` metrics."""

GROUP = "custom.metrics.k8s.io"
VERSIONS = ("v1beta2", "v1beta1")   # preference order: HPA's client picks the first one served
