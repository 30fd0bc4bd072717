"""--write-ca-bundle: put the generated CA into our APIService's `spec.caBundle` so the aggregator
verifies us (no insecureSkipTLSVerify). Each replica generates its own CA, so the bundle keeps the
newest few CAs instead of replacing them; writes are conditional on the resourceVersion read."""
from __future__ import annotations

import base64
import datetime
import logging

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from metrics_api.apis.smi import GROUP, V1ALPHA1, VERSIONS
from metrics_api.kube.client import Kube, KubeError

log = logging.getLogger("metrics_api.kube")

APISERVICES = "/apis/apiregistration.k8s.io/v1/apiservices"
KEEP = 4          # CAs kept in the bundle: enough for every replica of a rolling update
ATTEMPTS = 5


async def write_ca_bundle(kube: Kube, ca_pem: bytes) -> None:
    """Into every version's APIService; one registered before v1alpha2 existed may lack its v1alpha2 one."""
    for version in VERSIONS:
        try:
            await _write(kube, f"{version.name}.{GROUP}", x509.load_pem_x509_certificate(ca_pem))
        except KubeError as exc:
            if exc.status != 404 or version == V1ALPHA1:
                raise
            log.warning("APIService %s.%s is not registered: that version stays unreachable through the "
                        "aggregator (deploy/base/apiservice.yaml registers it)", version.name, GROUP)


async def _write(kube: Kube, name: str, ours: x509.Certificate) -> None:
    path = f"{APISERVICES}/{name}"
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
