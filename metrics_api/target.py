"""What a client asked for, parsed and validated: plain data handed to the planner."""
from __future__ import annotations

from dataclasses import dataclass

from .kinds import Kind


@dataclass(frozen=True)
class Target:
    plural: str                  # as requested: a kind's plural or `trafficmetrics`
    kinds: tuple[Kind, ...]      # kinds to measure, in resolution order
    namespace: str | None        # None: every namespace (or a cluster-scoped kind)
    name: str | None             # None: a list
    edges: bool
    window: float                # seconds
    label_selector: str | None = None

    @property
    def is_list(self) -> bool:
        return self.name is None and not self.edges
