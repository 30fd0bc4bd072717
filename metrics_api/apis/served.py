"""Which APIs this process serves: SMI always, the autoscaling metrics APIs when enabled (CONTRACT §5:
only one backend per group may exist in a cluster, so they are opt-in)."""
from __future__ import annotations

from metrics_api.apis.api import Api
from metrics_api.apis.custom_metrics import VERSIONS as CUSTOM_METRICS_VERSIONS
from metrics_api.apis.custom_metrics.api import CustomMetricsApi
from metrics_api.apis.external_metrics.api import ExternalMetricsApi
from metrics_api.apis.registry import Apis
from metrics_api.apis.smi import VERSIONS as SMI_VERSIONS
from metrics_api.apis.smi.api import SmiApi
from metrics_api.packs.model import Pack


def served_apis(pack: Pack, *, splits: bool = False, custom_metrics: bool, external_metrics: bool) -> Apis:
    """`splits`: whether v1alpha2 serves trafficsplits/httproutes. SMI versions preferred first."""
    apis: list[Api] = [SmiApi(pack, version, splits) for version in SMI_VERSIONS]
    if custom_metrics:
        apis += [CustomMetricsApi(pack, version) for version in CUSTOM_METRICS_VERSIONS]
    if external_metrics:
        apis.append(ExternalMetricsApi(pack))
    return Apis(apis)
