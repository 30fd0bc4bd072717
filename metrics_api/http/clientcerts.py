"""Client certificates requested in the TLS handshake but never judged there, as kube-apiserver does.

k8s.io/apiserver pkg/server/secure_serving.go sets `tlsConfig.ClientAuth = tls.RequestClientCert` when a
client CA is configured ("Populate PeerCertificates in requests, but don't reject connections without
certificates. This allows certificates to be validated by authenticators, while still allowing other auth
types"): Go checks only that the client holds the certificate's key (CertificateVerify), and the chain is
judged per request by the x509 authenticators, which hand a failed one on to the next (a bearer token).
A certificate from an unknown CA is never a failed handshake. Ours are judged by kube/authn.py with Go's
rules (kube/x509verify.py).

OpenSSL has no such mode: with SSL_VERIFY_PEER it ends the handshake on any chain error unless a verify
callback overrides the verdict, and Python's ssl module sets no callback and offers no way to set one. It
keeps one it finds, though (CPython Modules/_ssl.c `_set_verify_mode`: "keep current verify cb";
`newPySSLSocket` likewise), so one installed on the context's SSL_CTX with ctypes stays in force. The
SSL_CTX pointer is the first field after the object header of CPython's PySSLContext (Modules/_ssl.c);
it is checked against the options Python reads from it before anything is written."""
from __future__ import annotations

import _ssl
import ctypes
import logging
import ssl

log = logging.getLogger("metrics_api")

# int (*verify_callback)(int preverify_ok, X509_STORE_CTX *ctx): OpenSSL ssl.h SSL_verify_cb.
_VERIFY_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
_ACCEPT_ANY_CHAIN = _VERIFY_CALLBACK(lambda preverify_ok, store: 1)
_SSL_VERIFY_PEER = 0x01   # OpenSSL ssl.h


def request_client_certificates(context: ssl.SSLContext) -> bool:
    """Make `context` ask for a client certificate and accept whatever chain comes (or none). False, with
    a warning, where the callback cannot be installed: OpenSSL then verifies chains against the CAs loaded
    into the context (ssl.CERT_OPTIONAL) and ends handshakes with certificates from other CAs."""
    context.verify_mode = ssl.CERT_OPTIONAL
    try:
        libssl = ctypes.CDLL(getattr(_ssl, "__file__", None))   # dlsym also searches the module's libssl
        get_options, set_verify = libssl.SSL_CTX_get_options, libssl.SSL_CTX_set_verify
    except (OSError, AttributeError) as exc:
        log.warning("cannot install a client-certificate verify callback (%s): a client certificate from an "
                    "unknown CA will end the TLS handshake instead of falling through to other authentication", exc)
        return False
    get_options.restype, get_options.argtypes = ctypes.c_uint64, [ctypes.c_void_p]
    set_verify.restype, set_verify.argtypes = None, [ctypes.c_void_p, ctypes.c_int, _VERIFY_CALLBACK]
    ssl_ctx = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not ssl_ctx or get_options(ssl_ctx) != context.options:
        log.warning("cannot find the SSL_CTX of the serving context: a client certificate from an unknown CA "
                    "will end the TLS handshake instead of falling through to other authentication")
        return False
    set_verify(ssl_ctx, _SSL_VERIFY_PEER, _ACCEPT_ANY_CHAIN)
    return True
