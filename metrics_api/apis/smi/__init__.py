"""metrics.smi-spec.io: the SMI Traffic Metrics API, v1alpha1 and v1alpha2 (one pipeline, two renderings)."""
from __future__ import annotations

from dataclasses import dataclass

GROUP = "metrics.smi-spec.io"
VERSION = "v1alpha1"
GROUP_VERSION = f"{GROUP}/{VERSION}"
API_PREFIX = f"/apis/{GROUP_VERSION}"


@dataclass(frozen=True)
class ApiVersion:
    """One served version. v1alpha2 (smi-sdk-go pkg/apis/metrics/v1alpha2) adds `edge.side`, `backend`
    and the traffic-split plurals; everything else is the same."""
    name: str
    sides: bool   # objects carry edge.side and backend; trafficsplits/httproutes are served

    @property
    def group_version(self) -> str:
        return f"{GROUP}/{self.name}"

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group_version}"


V1ALPHA1 = ApiVersion(VERSION, sides=False)
V1ALPHA2 = ApiVersion("v1alpha2", sides=True)
VERSIONS: tuple[ApiVersion, ...] = (V1ALPHA2, V1ALPHA1)   # preferred first, as discovery lists them
BY_VERSION: dict[str, ApiVersion] = {v.name: v for v in VERSIONS}
