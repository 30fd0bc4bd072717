"""Certificates of every shape Go's x509 meets in clusters (extensions present or not, critical or not,
RSA, ECDSA, Ed25519), for the client-certificate tests."""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
CLIENT = ExtendedKeyUsageOID.CLIENT_AUTH
SERVER = ExtendedKeyUsageOID.SERVER_AUTH
ANY = ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE


def _key(kind: str):
    if kind == "rsa":
        return rsa.generate_private_key(65537, 2048)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1() if kind == "p256" else ec.SECP384R1())


@dataclass
class Spec:
    """One certificate; every extension optional, as Go allows."""
    name: str
    key_kind: str = "p256"
    ca: bool | None = None                 # BasicConstraints cA; None: no BasicConstraints at all
    bc_critical: bool = True
    path_length: int | None = None
    key_usage: str | None = "default"      # "default", None (absent), "no-certsign"
    eku: tuple = ()                        # () : no ExtendedKeyUsage
    ski: bool = True
    aki: bool = True
    not_before: datetime.datetime = NOW - DAY
    not_after: datetime.datetime = NOW + DAY
    extra: list = field(default_factory=list)   # (extension, critical)
    sans: list = field(default_factory=list)
    hash: hashes.HashAlgorithm | None = field(default_factory=hashes.SHA256)


@dataclass
class Issued:
    certificate: x509.Certificate
    key: object

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(Encoding.DER)


def issue(spec: Spec, issuer: Issued | None = None) -> Issued:
    key = _key(spec.key_kind)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, spec.name)])
    signer_key = issuer.key if issuer else key
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.certificate.subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(spec.not_before).not_valid_after(spec.not_after))
    if spec.ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(spec.ca, spec.path_length), critical=spec.bc_critical)
    if spec.key_usage is not None:
        sign = spec.ca is True and spec.key_usage == "default"
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=sign, crl_sign=sign, encipher_only=False, decipher_only=False),
            critical=True)
    if spec.eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(spec.eku)), critical=False)
    if spec.ski:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    if spec.aki and issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    if spec.sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(spec.sans), critical=False)
    for extension, critical in spec.extra:
        builder = builder.add_extension(extension, critical=critical)
    algorithm = None if isinstance(signer_key, ed25519.Ed25519PrivateKey) else spec.hash
    return Issued(builder.sign(signer_key, algorithm), key)


def root(**options) -> Issued:
    return issue(Spec("root", **{"ca": True, **options}))


def intermediate(parent: Issued, **options) -> Issued:
    return issue(Spec("intermediate", **{"ca": True, **options}), parent)


def leaf(parent: Issued, **options) -> Issued:
    return issue(Spec("front-proxy-client", **{"ca": False, "eku": (CLIENT,), **options}), parent)


def write_chain(directory: Path, chain: list[Issued]) -> tuple[Path, Path]:
    """(certificate file with the whole chain, leaf first; key file) for a TLS client."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "chain.crt", directory / "leaf.key"
    cert_path.write_bytes(b"".join(c.certificate.public_bytes(Encoding.PEM) for c in chain))
    key_path.write_bytes(chain[0].key.private_bytes(Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    return cert_path, key_path
