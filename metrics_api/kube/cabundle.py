"""--write-ca-bundle: put the generated CA into our APIServices' `spec.caBundle` (the SMI one, and the
autoscaling ones when those APIs are enabled) so the aggregator verifies us (no insecureSkipTLSVerify).
Each replica generates its own CA, so a bundle keeps the newest few CAs instead of replacing them;
writes are conditional on the resourceVersion read."""
from __future__ import annotations

import base64
import datetime
import logging
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from metrics_api.kube.client import Kube, KubeError

log = logging.getLogger("metrics_api.kube")

APISERVICES = "/apis/apiregistration.k8s.io/v1/apiservices"
KEEP = 4          # CAs kept in the bundle: enough for every replica of a rolling update
ATTEMPTS = 5


async def write_ca_bundle(kube: Kube, ca_pem: bytes, names: Sequence[str]) -> None:
    """Into each APIService of `names` (`<version>.<group>`) that exists, and at least one: an install made
    before a version existed may lack that version's APIService, which then stays unreachable through the
    aggregator (deploy/base/apiservice.yaml registers every version)."""
    ours = x509.load_pem_x509_certificate(ca_pem)
    missing = []
    for name in names:
        try:
            await _write_one(kube, f"{APISERVICES}/{name}", name, ours)
        except KubeError as exc:
            if exc.status != 404:
                raise
            log.warning("APIService %s is not registered: that version stays unreachable through the aggregator",
                        name)
            missing.append(name)
    if missing and len(missing) == len(names):
        raise KubeError(404, f"none of the APIServices {', '.join(names)} is registered")


async def _write_one(kube: Kube, path: str, name: str, ours: x509.Certificate) -> None:
    for _ in range(ATTEMPTS):
        apiservice = await kube.get(path)
        bundle = base64.b64decode((apiservice.get("spec") or {}).get("caBundle") or "")
        merged = merge(bundle, ours)
        if merged == bundle:
            return
        patch = {"metadata": {"resourceVersion": (apiservice.get("metadata") or {}).get("resourceVersion")},
                 "spec": {"caBundle": base64.b64encode(merged).decode()}}
        try:
            await kube.merge_patch(path, patch)
        except KubeError as exc:
            if exc.status == 409:   # another replica wrote first: merge again
                continue
            raise
        log.info("APIService %s now trusts our CA %s", name, ours.subject.rfc4514_string())
        return
    raise KubeError(409, f"APIService {name}: caBundle kept changing, gave up after {ATTEMPTS} attempts")


def merge(bundle: bytes, ours: x509.Certificate) -> bytes:
    """`bundle` with `ours` in it, unexpired CAs only, the newest KEEP of them. Unchanged when nothing changes."""
    try:
        present = x509.load_pem_x509_certificates(bundle) if bundle.strip() else []
    except ValueError:
        present = []   # not PEM: replace it
    if ours in present:
        return bundle
    now = datetime.datetime.now(datetime.timezone.utc)
    kept = [ca for ca in present if ca.not_valid_after_utc > now] + [ours]
    kept = sorted(kept, key=lambda ca: ca.not_valid_before_utc)[-KEEP:]
    return b"".join(ca.public_bytes(Encoding.PEM) for ca in kept)
