"""Client certificates: verify a presented leaf against one CA bundle ourselves, because the TLS layer
verified it against the union of every CA we accept and cannot tell which one signed it."""
from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store, VerificationError

# Web PKI rules, except that a client certificate needs no subjectAltName (kube-apiserver's front-proxy
# client and kubeadm's user certificates have none). The client verifier requires EKU clientAuth.
_LEAF_POLICY = ExtensionPolicy.webpki_defaults_ee().may_be_present(
    x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
_CA_POLICY = ExtensionPolicy.webpki_defaults_ca()


def verified_by(leaf: x509.Certificate, cas: tuple[x509.Certificate, ...]) -> bool:
    if not cas:
        return False
    verifier = (PolicyBuilder().store(Store(list(cas))).time(datetime.datetime.now(datetime.timezone.utc))
                .extension_policies(ca_policy=_CA_POLICY, ee_policy=_LEAF_POLICY).build_client_verifier())
    try:
        verifier.verify(leaf, [])
    except VerificationError:
        return False
    return True


def common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def organizations(certificate: x509.Certificate) -> list[str]:
    return [str(a.value) for a in certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
