"""Serving certificates: a generated CA and serving pair when none is given, and the TLS context."""
from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
CERT_NAME, KEY_NAME, CA_NAME = "apiserver.crt", "apiserver.key", "ca.crt"


def ensure_self_signed(cert_dir: Path, hosts: tuple[str, ...] = DEFAULT_HOSTS) -> tuple[Path, Path]:
    """A serving pair in `cert_dir` signed by a self-signed CA generated with it, as kube's
    MaybeDefaultWithSelfSignedCerts does. The CA (`ca_file(cert_dir)`) is what a client or an APIService
    `caBundle` trusts. Regenerated when absent, expiring within a day, or missing a host."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path, ca_path = cert_dir / CERT_NAME, cert_dir / KEY_NAME, ca_file(cert_dir)
    if cert_path.exists() and key_path.exists() and ca_path.exists() and _still_good(cert_path, ca_path, hosts):
        return cert_path, key_path
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"smi-metrics-api-ca@{int(now.timestamp())}")])
    ca = (
        _builder(ca_name, ca_name, ca_key, now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    certificate = (
        _builder(name, ca_name, key, now)
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_path.touch(mode=0o600)
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def ca_file(cert_dir: Path) -> Path:
    return cert_dir / CA_NAME


def service_hosts(service: str, namespace: str) -> tuple[str, ...]:
    """The names the aggregator (and anyone in the cluster) may use for the Service, then loopback."""
    return (f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local", f"{service}.{namespace}",
            service, *DEFAULT_HOSTS)


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey,
             now: datetime.datetime) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
    )


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
                         crl_sign=cert_sign, encipher_only=False, decipher_only=False)


# TLS 1.2 suites: ECDHE key exchange with an AEAD cipher only (Mozilla's "intermediate" list), no CBC
# (Lucky13-style padding oracles) and no static RSA key exchange. TLS 1.3 suites are all AEAD.
TLS12_CIPHERS = ":".join((
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
))
# Client certificates are only requested in the handshake; whether one is valid is decided per request
# with Go's rules (kube/x509verify.py), as kube-apiserver does (tls.RequestClientCert; http/clientcerts.py
# makes the handshake accept any chain). Where that cannot be arranged and OpenSSL verifies, it should end
# as few handshakes that Go would let through as it can: validity dates are left to the per-request check,
# and any trusted certificate, even an intermediate, anchors a chain (as in a Go CertPool).
_X509_V_FLAG_NO_CHECK_TIME = 0x200000   # OpenSSL x509_vfy.h; not exported by the ssl module


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_RENEGOTIATION   # Go's TLS server never renegotiates either
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | _X509_V_FLAG_NO_CHECK_TIME
    context.set_alpn_protocols(["http/1.1"])
    context.load_cert_chain(cert_path, key_path)
    return context


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _still_good(cert_path: Path, ca_path: Path, hosts: tuple[str, ...]) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if certificate.issuer != x509.load_pem_x509_certificate(ca_path.read_bytes()).subject:
            return False
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    present = {str(v) for v in names.get_values_for_type(x509.DNSName)}
    present |= {str(v) for v in names.get_values_for_type(x509.IPAddress)}
    remaining = certificate.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
    return set(hosts) <= present and remaining > datetime.timedelta(days=1)
