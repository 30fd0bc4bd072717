"""The split objects of the default scenario's canary, as `kubectl get trafficsplits,httproutes,referencegrants
-A -o yaml` prints them (a v1 List), for `--routes-file`.

- TrafficSplit `checkout` in every split.smi-spec.io version (v1alpha1 with quantity weights `900m`/`100m`,
  later versions with integers 90/10), apex `checkout`, backends checkout-stable and checkout-canary.
- HTTPRoute `checkout` (gateway.networking.k8s.io/v1, GAMMA producer route: parent Service in its namespace).
- HTTPRoute `ledger` (v1beta1) in pay: ledger 100 and ledger-v2 0, a backend without traffic.
- HTTPRoute `checkout` in ops (v1): a GAMMA consumer route of shop/checkout (only clients in ops), with
  cross-namespace backendRefs: checkout-stable allowed by a ReferenceGrant in shop, checkout-canary not.
"""
from __future__ import annotations

from typing import Any

import yaml

from meshsim.scenario import CANARY_APEX

SPLIT_VERSIONS = ("v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4")
STABLE, CANARY = "checkout-stable", "checkout-canary"
PORT = 8080


def _meta(name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace}


def traffic_split(version: str) -> dict[str, Any]:
    weights = ("900m", "100m") if version == "v1alpha1" else (90, 10)
    name = CANARY_APEX if version == "v1alpha1" else f"{CANARY_APEX}-{version}"
    return {"apiVersion": f"split.smi-spec.io/{version}", "kind": "TrafficSplit", "metadata": _meta(name, "shop"),
            "spec": {"service": CANARY_APEX,
                     "backends": [{"service": STABLE, "weight": weights[0]}, {"service": CANARY, "weight": weights[1]}]}}


def _service(name: str, namespace: str | None = None, **more: Any) -> dict[str, Any]:
    ref: dict[str, Any] = {"group": "", "kind": "Service", "name": name}
    if namespace:
        ref["namespace"] = namespace
    return {**ref, "port": PORT, **more}


def http_route(version: str, name: str, namespace: str, parent: dict[str, Any],
               backends: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": f"gateway.networking.k8s.io/{version}", "kind": "HTTPRoute", "metadata": _meta(name, namespace),
            "spec": {"parentRefs": [parent], "rules": [{"backendRefs": backends}]}}


def objects() -> list[dict[str, Any]]:
    found = [traffic_split(version) for version in SPLIT_VERSIONS]
    found.append(http_route("v1", CANARY_APEX, "shop", _service(CANARY_APEX),
                            [_service(STABLE, weight=90), _service(CANARY, weight=10)]))
    found.append(http_route("v1beta1", "ledger", "pay", _service("ledger"),
                            [_service("ledger", weight=100), _service("ledger-v2", weight=0)]))
    found.append(http_route("v1", CANARY_APEX, "ops", _service(CANARY_APEX, "shop"),
                            [_service(STABLE, "shop", weight=100), _service(CANARY, "shop", weight=0)]))
    found.append({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
                  "metadata": _meta("ops-routes-to-checkout-stable", "shop"),
                  "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "ops"}],
                           "to": [{"group": "", "kind": "Service", "name": STABLE}]}})
    return found


def routes_yaml() -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
                           "items": objects()}, sort_keys=False)
