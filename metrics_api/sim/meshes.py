"""Registry of mesh renderers (same dict as ``metrics_api.sim.RENDERERS``)."""

from . import RENDERERS

__all__ = ["RENDERERS"]
