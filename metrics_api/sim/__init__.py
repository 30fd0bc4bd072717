"""Deterministic mesh-traffic simulator with known ground truth.

``scenario`` holds the data model and builders, ``linkerd``/``istio`` render a
scenario as the exact series each mesh exports (each module exposes
``BUCKETS_MS`` and ``families(scenario)``), ``openmetrics`` writes them, and
``store`` backfills them into a real Prometheus.  ``RENDERERS`` maps mesh name →
renderer module; a new mesh is one more module with the same two names.
"""

from . import istio, linkerd

RENDERERS = {"linkerd": linkerd, "istio": istio}

__all__ = ["RENDERERS", "istio", "linkerd"]
