"""Deterministic mesh-traffic simulator with known ground truth.

``scenario`` holds the data model and builders, ``linkerd``/``istio``/``consul``/``osm``/``kuma``/``cilium`` render a
scenario as the exact series each mesh exports (each module exposes
``BUCKETS_MS`` and ``families(scenario)``), ``openmetrics`` writes them, and
``store`` backfills them into a real Prometheus.  ``RENDERERS`` maps mesh name →
renderer module; a new mesh is one more module with the same two names.
"""

from . import cilium, consul, istio, kuma, linkerd, osm

RENDERERS = {"linkerd": linkerd, "istio": istio, "consul": consul, "osm": osm, "kuma": kuma, "cilium": cilium}

__all__ = ["RENDERERS", "cilium", "consul", "istio", "kuma", "linkerd", "osm"]
