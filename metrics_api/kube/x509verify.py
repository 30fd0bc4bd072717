"""Client-certificate chains verified as Go's crypto/x509 verifies them, because that is what
kube-apiserver (and every k8s.io/apiserver-based server) accepts: the front-proxy certificate the
aggregator presents and the users' certificates are made by tools that only ever met Go's rules.

The reference is Certificate.Verify with VerifyOptions{Roots: the CA bundle, Intermediates: the rest of
the peer's chain, KeyUsages: [ExtKeyUsageClientAuth]}, as built by
k8s.io/apiserver/pkg/authentication/request/x509/x509.go (DefaultVerifyOptions, AuthenticateRequest).
Go sources named below are golang/go src/crypto/x509/{verify.go, x509.go, parser.go, cert_pool.go}.
Unlike the Web PKI rules, Go does not require AuthorityKeyIdentifier, SubjectKeyIdentifier, a critical
BasicConstraints or a KeyUsage on a CA, nor a subjectAltName on a leaf.

Not reproduced (stricter here): RFC 5280 policy-tree validation (only differs when a CA carries
policyConstraints), and quoted-string local parts in e-mail name constraints (refused)."""
from __future__ import annotations

import datetime
import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, SignatureAlgorithmOID

# verify.go buildChains: "maxChainSignatureChecks is the maximum number of CheckSignatureFrom calls".
MAX_SIGNATURE_CHECKS = 100
# verify.go isValid: "if maxConstraintComparisons == 0 { maxConstraintComparisons = 250000 }".
MAX_CONSTRAINT_COMPARISONS = 250_000
# crypto/rsa (Go 1.24+, GODEBUG rsa1024min=1 by default): keys under 1024 bits are refused.
MIN_RSA_BITS = 1024
# x509.go checkSignature: MD5 and SHA-1 give InsecureAlgorithmError, hashes without a signatureAlgorithmDetails
# entry (SHA-224, …) are unknown algorithms; Ed25519 signs without a pre-hash.
_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)
# parser.go processExtensions: the extensions Go understands; any other one marked critical lands in
# UnhandledCriticalExtensions, which isValid refuses. (SAN and NameConstraints: see _unhandled.)
_HANDLED = frozenset({
    ExtensionOID.KEY_USAGE, ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    ExtensionOID.NAME_CONSTRAINTS, ExtensionOID.CRL_DISTRIBUTION_POINTS, ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    ExtensionOID.EXTENDED_KEY_USAGE, ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.CERTIFICATE_POLICIES,
    ExtensionOID.POLICY_MAPPINGS, ExtensionOID.POLICY_CONSTRAINTS, ExtensionOID.INHIBIT_ANY_POLICY,
    ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
})
_SAN_TYPES = (x509.DNSName, x509.RFC822Name, x509.IPAddress, x509.UniformResourceIdentifier)


class Role(Enum):
    """verify.go: leafCertificate, intermediateCertificate, rootCertificate."""
    LEAF = "leaf"
    INTERMEDIATE = "intermediate"
    ROOT = "root"


@dataclass(frozen=True)
class Facts:
    """What Go's verifier reads of one certificate."""
    certificate: x509.Certificate
    der: bytes
    raw_subject: bytes
    raw_issuer: bytes
    version3: bool
    basic_constraints: x509.BasicConstraints | None   # None: BasicConstraintsValid false
    key_usage: x509.KeyUsage | None
    extended_key_usage: tuple[x509.ObjectIdentifier, ...] | None
    subject_key_id: bytes | None
    authority_key_id: bytes | None
    alternative_names: x509.SubjectAlternativeName | None
    san_der: bytes | None
    name_constraints: x509.NameConstraints | None
    unhandled_critical: bool

    @classmethod
    def of(cls, der: bytes) -> Facts:
        """ValueError when the certificate does not parse."""
        certificate = x509.load_der_x509_certificate(der)
        extensions = {e.oid: e for e in certificate.extensions}
        issuer, subject = _raw_names(certificate.tbs_certificate_bytes)

        def value(oid: x509.ObjectIdentifier):
            return extensions[oid].value if oid in extensions else None

        san = value(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        usage = value(ExtensionOID.EXTENDED_KEY_USAGE)
        aki = value(ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
        ski = value(ExtensionOID.SUBJECT_KEY_IDENTIFIER)
        return cls(
            certificate, der, subject, issuer, certificate.version == x509.Version.v3,
            value(ExtensionOID.BASIC_CONSTRAINTS), value(ExtensionOID.KEY_USAGE),
            tuple(usage) if usage is not None else None, ski.digest if ski is not None else None,
            aki.key_identifier if aki is not None else None, san,
            san.public_bytes() if san is not None else None, value(ExtensionOID.NAME_CONSTRAINTS),
            any(e.critical and _unhandled(e) for e in extensions.values()))

    def boundaries(self) -> tuple[datetime.datetime, datetime.datetime]:
        """When this certificate starts being valid, and the first moment it no longer is."""
        return (self.certificate.not_valid_before_utc,
                self.certificate.not_valid_after_utc + datetime.timedelta(microseconds=1))

    def within_validity(self, now: datetime.datetime) -> bool:
        # verify.go isValid: now.Before(NotBefore) or now.After(NotAfter) is Expired.
        return self.certificate.not_valid_before_utc <= now <= self.certificate.not_valid_after_utc


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    leaf: x509.Certificate | None
    until: datetime.datetime   # the answer holds until a certificate involved starts or ends its validity

    @property
    def leaf_if_accepted(self) -> x509.Certificate | None:
        return self.leaf if self.accepted else None


class ChainVerifier:
    """Verification against one CA bundle (client-ca-file or requestheader-client-ca-file). Verdicts are
    remembered per distinct chain (a keep-alive connection presents the same one with every request)
    until a validity date involved is crossed; at most `max_entries` of them, the oldest dropped first."""

    def __init__(self, roots: Iterable[x509.Certificate], max_entries: int = 1024) -> None:
        self._roots: dict[bytes, list[Facts]] = {}
        self._root_ders: set[bytes] = set()
        for root in roots:
            facts = Facts.of(root.public_bytes(Encoding.DER))
            self._roots.setdefault(facts.raw_subject, []).append(facts)
            self._root_ders.add(facts.der)
        self._verdicts: dict[bytes, Verdict] = {}
        self._max_entries = max_entries

    def verify(self, chain: tuple[bytes, ...], now: datetime.datetime) -> Verdict:
        """`chain`: the peer's certificates as sent, leaf first (DER)."""
        digest = hashlib.sha256()
        for der in chain:
            digest.update(len(der).to_bytes(4, "big"))
            digest.update(der)
        key = digest.digest()
        verdict = self._verdicts.get(key)
        if verdict is not None and now < verdict.until:
            return verdict
        verdict = self._decide(chain, now)
        self._verdicts.pop(key, None)
        if len(self._verdicts) >= self._max_entries:
            del self._verdicts[next(iter(self._verdicts))]
        self._verdicts[key] = verdict
        return verdict

    def _decide(self, chain: tuple[bytes, ...], now: datetime.datetime) -> Verdict:
        try:
            presented = [Facts.of(der) for der in chain]
        except ValueError:
            return Verdict(False, None, now + _NEVER)
        everything = presented + [facts for group in self._roots.values() for facts in group]
        until = min((moment for facts in everything for moment in facts.boundaries() if moment > now),
                    default=now + _NEVER)
        return Verdict(bool(presented) and self._accepts(presented, now), presented[0].certificate if presented
                       else None, until)

    def _accepts(self, presented: list[Facts], now: datetime.datetime) -> bool:
        """verify.go Certificate.Verify with Intermediates = the rest of the peer's chain."""
        leaf = presented[0]
        if not self._roots or not _valid(leaf, Role.LEAF, [], now):
            return False
        if leaf.der in self._root_ders:   # verify.go: `if opts.Roots.contains(c) { return [][]*Certificate{{c}}, nil }`
            return True
        intermediates: dict[bytes, list[Facts]] = {}
        for facts in presented[1:]:
            intermediates.setdefault(facts.raw_subject, []).append(facts)
        return _Search(self._roots, intermediates, now).build([leaf])


_NEVER = datetime.timedelta(days=3650)


class _Search:
    """verify.go buildChains: depth first, roots before intermediates, at most MAX_SIGNATURE_CHECKS
    signature checks in all."""

    def __init__(self, roots: dict[bytes, list[Facts]], intermediates: dict[bytes, list[Facts]],
                 now: datetime.datetime) -> None:
        self._pools = ((Role.ROOT, roots), (Role.INTERMEDIATE, intermediates))
        self._now = now
        self._checks = 0

    def build(self, chain: list[Facts]) -> bool:
        child = chain[-1]
        for role, pool in self._pools:
            for candidate in _potential_parents(child, pool.get(child.raw_issuer, ())):
                if _already_in_chain(candidate, chain):
                    continue
                self._checks += 1
                if self._checks > MAX_SIGNATURE_CHECKS:
                    return False
                if not _signed_by(child, candidate) or not _valid(candidate, role, chain, self._now):
                    continue
                if role is Role.ROOT or self.build(chain + [candidate]):
                    return True
        return False


def _potential_parents(child: Facts, candidates: Iterable[Facts]) -> list[Facts]:
    """cert_pool.go findPotentialParents: same subject as the child's issuer, ordered AKID = SKID first,
    then one of them missing, then mismatched (the order only matters once the check budget runs out)."""
    def rank(candidate: Facts) -> int:
        if child.authority_key_id is None or candidate.subject_key_id is None:
            return 1
        return 0 if child.authority_key_id == candidate.subject_key_id else 2
    return sorted(candidates, key=rank)


def _already_in_chain(candidate: Facts, chain: list[Facts]) -> bool:
    """verify.go alreadyInChain: same subject, same public key and the same SAN (or none)."""
    return any(candidate.raw_subject == c.raw_subject and candidate.san_der == c.san_der
               and candidate.certificate.public_key() == c.certificate.public_key() for c in chain)


def _valid(c: Facts, role: Role, chain: list[Facts], now: datetime.datetime) -> bool:
    """verify.go isValid (KeyUsages = [ClientAuth]; KeyUsage bits are ignored there, on purpose)."""
    if c.unhandled_critical or not c.within_validity(now):
        return False
    usages = c.extended_key_usage
    if usages is not None and not {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE} & set(usages):
        return False
    if role is not Role.LEAF and c.name_constraints is not None and not _names_permitted(c, chain[0]):
        return False
    if role is Role.INTERMEDIATE and (c.basic_constraints is None or not c.basic_constraints.ca):
        return False
    constraints = c.basic_constraints
    if constraints is not None and constraints.path_length is not None and len(chain) - 1 > constraints.path_length:
        return False
    return True


def _signed_by(child: Facts, parent: Facts) -> bool:
    """x509.go CheckSignatureFrom + checkSignature (allowSHA1 false)."""
    constraints = parent.basic_constraints
    if (parent.version3 and constraints is None) or (constraints is not None and not constraints.ca):
        return False
    if parent.key_usage is not None and not parent.key_usage.key_cert_sign:
        return False
    certificate = child.certificate
    key = parent.certificate.public_key()
    try:
        algorithm = certificate.signature_hash_algorithm
        oid = certificate.signature_algorithm_oid
        if isinstance(key, ed25519.Ed25519PublicKey):
            if oid != SignatureAlgorithmOID.ED25519:
                return False
            key.verify(certificate.signature, certificate.tbs_certificate_bytes)
            return True
        if not isinstance(algorithm, _HASHES):
            return False
        if isinstance(key, rsa.RSAPublicKey):
            if key.key_size < MIN_RSA_BITS:
                return False
            # x509.go getSignatureAlgorithmFromAI: PSS only with MGF1 over the same hash and a salt as long
            # as the hash (a signature made otherwise does not verify with these parameters).
            scheme = (padding.PSS(padding.MGF1(algorithm), algorithm.digest_size)
                      if oid == SignatureAlgorithmOID.RSASSA_PSS else padding.PKCS1v15())
            key.verify(certificate.signature, certificate.tbs_certificate_bytes, scheme, algorithm)
            return True
        if isinstance(key, ec.EllipticCurvePublicKey) and oid in _ECDSA:
            key.verify(certificate.signature, certificate.tbs_certificate_bytes, ec.ECDSA(algorithm))
            return True
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return False   # DSA (no longer verified by Go), Ed448, a key of the wrong type for the algorithm


_ECDSA = frozenset({SignatureAlgorithmOID.ECDSA_WITH_SHA256, SignatureAlgorithmOID.ECDSA_WITH_SHA384,
                    SignatureAlgorithmOID.ECDSA_WITH_SHA512})


def _unhandled(extension: x509.Extension) -> bool:
    """parser.go processExtensions: a SAN with no name of a type Go parses is unhandled, and so is a
    NameConstraints with a subtree type Go does not support (parseNameConstraintsExtension)."""
    if extension.oid not in _HANDLED or isinstance(extension.value, x509.UnrecognizedExtension):
        return True
    if isinstance(extension.value, x509.SubjectAlternativeName):
        return not any(isinstance(name, _SAN_TYPES) for name in extension.value)
    if isinstance(extension.value, x509.NameConstraints):
        subtrees = (extension.value.permitted_subtrees or []) + (extension.value.excluded_subtrees or [])
        return not all(isinstance(name, _SAN_TYPES) for name in subtrees)
    return False


# ---------------------------------------------------------------- name constraints (verify.go isValid)

def _names_permitted(ca: Facts, leaf: Facts) -> bool:
    """The leaf's SANs and the CA's own, checked against the CA's constraints, with Go's comparison budget."""
    constraints = ca.name_constraints
    assert constraints is not None
    budget = [0]
    for holder in (leaf, ca):
        if holder.alternative_names is None:
            continue
        for name in holder.alternative_names:
            if isinstance(name, _SAN_TYPES) and not _name_permitted(name, constraints, budget):
                return False
    return True


def _name_permitted(name: x509.GeneralName, constraints: x509.NameConstraints, budget: list[int]) -> bool:
    kind = type(name)
    excluded = [c for c in constraints.excluded_subtrees or () if isinstance(c, kind)]
    permitted = [c for c in constraints.permitted_subtrees or () if isinstance(c, kind)]
    budget[0] += len(excluded)
    if budget[0] > MAX_CONSTRAINT_COMPARISONS:
        return False
    try:
        if any(_matches(name, c) for c in excluded):
            return False
        budget[0] += len(permitted)
        if budget[0] > MAX_CONSTRAINT_COMPARISONS:
            return False
        return not permitted or any(_matches(name, c) for c in permitted)
    except ValueError:   # Go: a name or constraint that does not parse is CANotAuthorizedForThisName
        return False


def _matches(name: x509.GeneralName, constraint: x509.GeneralName) -> bool:
    if isinstance(name, x509.IPAddress):
        # matchIPConstraint: an IPv4 address never matches an IPv6 range, nor the reverse.
        return name.value.version == constraint.value.version and name.value in constraint.value
    if isinstance(name, x509.DNSName):
        return _domain_matches(name.value, constraint.value)
    if isinstance(name, x509.RFC822Name):
        local, domain = _mailbox(name.value)
        if "@" in constraint.value:   # matchEmailConstraint: an exact mailbox
            other_local, other_domain = _mailbox(constraint.value)
            return local == other_local and domain.lower() == other_domain.lower()
        return _domain_matches(domain, constraint.value)
    return _domain_matches(_uri_host(name.value), constraint.value)


def _domain_matches(domain: str, constraint: str) -> bool:
    """verify.go matchDomainConstraint (a leading '.' needs at least one more label)."""
    if not constraint:
        return True
    labels = _reverse_labels(domain)
    must_have_subdomains = constraint.startswith(".")
    wanted = _reverse_labels(constraint[1:] if must_have_subdomains else constraint)
    if len(labels) < len(wanted) or (must_have_subdomains and len(labels) == len(wanted)):
        return False
    return all(a.lower() == b.lower() for a, b in zip(wanted, labels))


def _reverse_labels(domain: str) -> list[str]:
    """verify.go domainToReverseLabels: ValueError for an empty label or a byte outside 33–126."""
    labels = domain.split(".")[::-1] if domain else []
    if not labels or any(not label or any(not 33 <= ord(ch) <= 126 for ch in label) for label in labels):
        raise ValueError(f"cannot parse domain {domain!r}")
    return labels


_ATEXT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~.")


def _mailbox(text: str) -> tuple[str, str]:
    """verify.go parseRFC2821Mailbox for dot-atom local parts (quoted ones are refused here)."""
    local, at, domain = text.partition("@")
    if not at or not local or not set(local) <= _ATEXT or local[0] == "." or local[-1] == "." or ".." in local:
        raise ValueError(f"cannot parse rfc822Name {text!r}")
    _reverse_labels(domain)
    return local, domain


def _uri_host(uri: str) -> str:
    """verify.go matchURIConstraint: the host of the URI, which must be a domain name."""
    host = urlsplit(uri).hostname or ""
    if not host:
        raise ValueError(f"URI with empty host ({uri!r}) cannot be matched against constraints")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    raise ValueError(f"URI with IP ({uri!r}) cannot be matched against constraints")


# ---------------------------------------------------------------- DER

def _raw_names(tbs: bytes) -> tuple[bytes, bytes]:
    """The issuer and subject Names exactly as encoded (Go compares RawIssuer with RawSubject byte for
    byte, cert_pool.go byName): TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber,
    signature, issuer, validity, subject, … }."""
    _, position, _ = _tlv(tbs, 0)
    if tbs[position] == 0xA0:
        position = _tlv(tbs, position)[2]
    fields = []
    for _ in range(5):
        end = _tlv(tbs, position)[2]
        fields.append(tbs[position:end])
        position = end
    _, _, issuer, _, subject = fields
    return issuer, subject


def _tlv(data: bytes, position: int) -> tuple[int, int, int]:
    """(tag, start of the contents, end) of the DER element at `position`."""
    tag, length = data[position], data[position + 1]
    start = position + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start:start + count], "big")
        start += count
    return tag, start, start + length
