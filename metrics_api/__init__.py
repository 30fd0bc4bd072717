"""smi-metrics-api: the SMI Traffic Metrics API served from a mesh's Prometheus metrics.

A request flows one way through the sub-packages: `http` (dispatch, Status errors, limits, TLS) →
`apis/<group>` (route and validate a path into a Target; render the Answer) → `pipeline` (plan from
the pack, fetch, normalize, answer) → `store` (the Prometheus HTTP API). `packs` loads the query
packs, `kube` talks to the cluster, `core` holds the plain types every stage shares, `cli` the
command line, and `app` wires them together."""

__version__ = "0.1.0"
