"""Kubernetes integration: delegated authentication and authorization, reloading serving TLS,
workload lookups (label selectors, idle workloads, real kinds of kind-blind peers)."""
