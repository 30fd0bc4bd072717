"""Deterministic mesh-traffic simulator with known ground truth.

``scenario`` holds the data model and builders, ``linkerd``/``istio``/``consul``/``osm``/``kuma``/``cilium``
render a scenario as the exact series each mesh exports (each module exposes ``BUCKETS_MS`` and
``families(scenario, **options)``), ``openmetrics`` writes them, and ``store`` backfills them into a real
Prometheus.

A :class:`Renderer` is one real variant of a mesh (Istio with sidecars or ambient waypoints, Kuma's two
naming modes, ...), read by the query pack named ``mesh``. ``VARIANTS`` holds every variant by name;
``RENDERERS`` the default variant of each mesh, named like the mesh. Variants of one mesh must never
share a store (the pack reads all of them: counts would add up), so ``layers()`` groups them into sets
with at most one variant per mesh.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType

from . import cilium, consul, istio, kuma, linkerd, osm


@dataclass(frozen=True)
class Renderer:
    """A variant: the renderer module of its mesh (by name, so that a Renderer pickles into the
    backfill's worker processes) and the options it is called with."""
    name: str
    mesh: str                 # the query pack that reads this variant, and the module that renders it
    options: Mapping[str, object] = field(default_factory=dict)

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(f"{__name__}.{self.mesh}")

    @property
    def BUCKETS_MS(self) -> tuple[float, ...]:
        return self.module.BUCKETS_MS

    def observe(self, ms: float) -> float:
        """The latency this mesh records for a request of ``ms`` milliseconds."""
        return getattr(self.module, "observe", float)(ms)

    def families(self, scenario) -> Iterator:
        return self.module.families(scenario, **self.options)


def _variants(*renderers: Renderer) -> dict[str, Renderer]:
    return {r.name: r for r in renderers}


VARIANTS = _variants(
    Renderer("linkerd", "linkerd"),
    Renderer("istio", "istio"),
    Renderer("istio-ambient", "istio", {"ambient": True}),
    # `pay` ambient behind a waypoint, sidecars elsewhere: shop/api's calls to pay/gateway are reported
    # by api's sidecar and by pay's waypoint (the double-count trap)
    Renderer("istio-mixed", "istio", {"ambient_namespaces": frozenset({"pay"})}),
    Renderer("consul", "consul"),   # Enterprise with mirroringK8S: Consul namespaces = Kubernetes'
    Renderer("osm", "osm"),
    # kuma-dp's own exporter (no _total), unified naming, kuma_workload = the ServiceAccount
    Renderer("kuma", "kuma"),
    Renderer("kuma-legacy", "kuma", {"unified": False}),
    # an OTLP pipeline (_total), a zone, KUMA_RUNTIME_KUBERNETES_WORKLOAD_LABELS=app
    Renderer("kuma-unified-otlp", "kuma", {"total": True, "zone": "zone-1", "workload_label": "app"}),
    Renderer("cilium", "cilium"),
    Renderer("cilium-nokind", "cilium", {"kinds": False}),
)
RENDERERS = {name: r for name, r in VARIANTS.items() if name == r.mesh}


def renderer(variant: str | Renderer) -> Renderer:
    return variant if isinstance(variant, Renderer) else VARIANTS[variant]


def layers(names: tuple[str, ...] | None = None) -> list[tuple[str, ...]]:
    """``names`` (default: every variant) in groups holding at most one variant of each mesh; the first
    group holds the default variants."""
    out: list[list[str]] = []
    for name in sorted(names or VARIANTS, key=lambda n: (n != VARIANTS[n].mesh, n)):
        mesh = VARIANTS[name].mesh
        free = next((group for group in out if all(VARIANTS[n].mesh != mesh for n in group)), None)
        if free is None:
            out.append(free := [])
        free.append(name)
    return [tuple(group) for group in out]


__all__ = ["RENDERERS", "VARIANTS", "Renderer", "cilium", "consul", "istio", "kuma", "layers", "linkerd", "osm",
           "renderer"]
