"""Client-certificate chains accepted exactly when Go's crypto/x509 Certificate.Verify (as kube-apiserver
calls it: Roots = the CA bundle, Intermediates = the rest of the peer chain, KeyUsages = [ClientAuth])
accepts them. Each case names the Go rule (golang/go src/crypto/x509) that decides it."""
from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from metrics_api.kube.x509verify import ChainVerifier
from tests.support.x509_variants import ANY, CLIENT, NOW, SERVER, Issued, Spec, intermediate, issue, leaf, root


def accepted(roots: list[Issued], chain: list[Issued]) -> bool:
    verifier = ChainVerifier([r.certificate for r in roots])
    return verifier.verify(tuple(c.der for c in chain), NOW).accepted


def case_no_aki_no_ski():
    # Go never requires AuthorityKeyIdentifier/SubjectKeyIdentifier (cert_pool.go findPotentialParents
    # only uses them to order candidates). Web PKI rules refuse a leaf without AKI.
    ca = root(ski=False)
    return [ca], [leaf(ca, aki=False, ski=False)], True


def case_ca_without_key_usage():
    # x509.go CheckSignatureFrom: `parent.KeyUsage != 0 && parent.KeyUsage&KeyUsageCertSign == 0` only.
    ca = root(key_usage=None)
    return [ca], [leaf(ca)], True


def case_ca_key_usage_without_cert_sign():
    ca = root(key_usage="no-certsign")
    return [ca], [leaf(ca)], False


def case_non_critical_basic_constraints():
    # Go reads BasicConstraints whatever its criticality (parser.go).
    ca = root(bc_critical=False)
    middle = intermediate(ca, bc_critical=False)
    return [ca], [leaf(middle), middle], True


def case_intermediate_from_the_peer():
    ca = root()
    middle = intermediate(ca)
    return [ca], [leaf(middle), middle], True


def case_intermediate_missing():
    ca = root()
    return [ca], [leaf(intermediate(ca))], False


def case_rsa_chain():
    ca = root(key_kind="rsa")
    middle = intermediate(ca, key_kind="rsa")
    return [ca], [leaf(middle, key_kind="rsa"), middle], True


def case_mixed_ecdsa_p384_rsa_ed25519():
    ca = root(key_kind="ed25519")
    middle = intermediate(ca, key_kind="p384", hash=hashes.SHA384())
    return [ca], [leaf(middle, key_kind="rsa", hash=hashes.SHA384()), middle], True


def case_sha224_signature():
    # x509.go signatureAlgorithmDetails has no SHA-224 entry: an unknown algorithm. (SHA-1, refused as an
    # InsecureAlgorithmError, cannot even be signed with this cryptography.)
    ca = root()
    return [ca], [leaf(ca, hash=hashes.SHA224())], False


def case_expired_leaf():
    ca = root()
    return [ca], [leaf(ca, not_after=NOW - datetime.timedelta(minutes=1))], False


def case_not_yet_valid_leaf():
    ca = root()
    return [ca], [leaf(ca, not_before=NOW + datetime.timedelta(minutes=1))], False


def case_expired_intermediate():
    ca = root()
    middle = intermediate(ca, not_after=NOW - datetime.timedelta(minutes=1))
    return [ca], [leaf(middle), middle], False


def case_expired_root():
    # verify.go isValid checks the validity of roots too.
    ca = root(not_after=NOW - datetime.timedelta(minutes=1))
    return [ca], [leaf(ca)], False


def case_server_auth_only():
    ca = root()
    return [ca], [leaf(ca, eku=(SERVER,))], False


def case_no_extended_key_usage():
    # A certificate without ExtendedKeyUsage is good for any usage.
    ca = root()
    return [ca], [leaf(ca, eku=())], True


def case_any_extended_key_usage():
    ca = root()
    return [ca], [leaf(ca, eku=(ANY,))], True


def case_intermediate_limited_to_server_auth():
    # EKUs nest down the chain (verify.go: "an intermediate or root that enumerates EKUs prevents a leaf
    # from asserting an EKU not in that list").
    ca = root()
    middle = intermediate(ca, eku=(SERVER,))
    return [ca], [leaf(middle), middle], False


def case_issuer_not_a_ca():
    # x509.go CheckSignatureFrom: BasicConstraintsValid && !IsCA → ConstraintViolationError.
    ca = root(ca=False, key_usage=None)
    return [ca], [leaf(ca)], False


def case_v3_root_without_basic_constraints():
    # x509.go CheckSignatureFrom: a version 3 parent without BasicConstraints cannot sign.
    ca = root(ca=None, key_usage=None)
    return [ca], [leaf(ca)], False


def case_intermediate_not_a_ca():
    ca = root()
    middle = intermediate(ca, ca=False, key_usage=None)
    return [ca], [leaf(middle), middle], False


def case_path_length_exceeded():
    # verify.go isValid: numIntermediates > MaxPathLen → TooManyIntermediates.
    ca = root(path_length=0)
    middle = intermediate(ca)
    return [ca], [leaf(middle), middle], False


def case_path_length_zero_direct():
    ca = root(path_length=0)
    return [ca], [leaf(ca)], True


def case_leaf_is_in_the_bundle():
    # verify.go Verify: `if opts.Roots.contains(c)` the leaf is its own chain.
    ca = root()
    self_signed = issue(Spec("self", ca=False, eku=(CLIENT,)))
    return [ca, self_signed], [self_signed], True


def case_wrong_root():
    ca, other = root(), root()
    return [other], [leaf(ca)], False


def case_same_name_other_key():
    # Found by name, refused by signature.
    ca = root()
    impostor = root()
    return [impostor], [leaf(ca)], False


def case_unknown_critical_extension():
    ca = root()
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    return [ca], [leaf(ca, extra=[(odd, True)])], False


def case_unknown_non_critical_extension():
    ca = root()
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    return [ca], [leaf(ca, extra=[(odd, False)])], True


def case_name_constraints_permit():
    ca = root(extra=[(x509.NameConstraints([x509.DNSName("example.com")], None), True)])
    return [ca], [leaf(ca, sans=[x509.DNSName("proxy.example.com")])], True


def case_name_constraints_refuse():
    ca = root(extra=[(x509.NameConstraints([x509.DNSName("example.com")], None), True)])
    return [ca], [leaf(ca, sans=[x509.DNSName("proxy.example.org")])], False


def case_name_constraints_without_sans():
    # Only names present are checked: a client certificate without SANs passes.
    ca = root(extra=[(x509.NameConstraints([x509.DNSName("example.com")], None), True)])
    return [ca], [leaf(ca)], True


CASES = {name[len("case_"):]: value for name, value in globals().items() if name.startswith("case_")}


@pytest.mark.parametrize("case", CASES)
def test_accepted_exactly_when_go_accepts(case):
    roots, chain, go_accepts = CASES[case]()
    assert accepted(roots, chain) is go_accepts


def test_verdicts_are_remembered_until_a_validity_date_is_crossed():
    ca = root()
    soon = NOW + datetime.timedelta(minutes=5)
    client = leaf(ca, not_after=soon)
    verifier = ChainVerifier([ca.certificate])
    first = verifier.verify((client.der,), NOW)
    assert first.accepted and first.until <= soon + datetime.timedelta(seconds=1)
    assert verifier.verify((client.der,), NOW + datetime.timedelta(minutes=1)) is first
    assert not verifier.verify((client.der,), soon + datetime.timedelta(seconds=1)).accepted


def test_garbage_is_refused_not_raised():
    ca = root()
    assert not ChainVerifier([ca.certificate]).verify((b"\x30\x03\x02\x01\x00",), NOW).accepted
    assert not ChainVerifier([]).verify((leaf(ca).der,), NOW).accepted
