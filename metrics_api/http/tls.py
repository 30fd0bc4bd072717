"""The serving TLS context, kept current without a restart: the certificate files are re-read when
they change (a renewed Secret), and client CAs are added when the cluster's change."""
from __future__ import annotations

import asyncio
import logging
import os
import ssl
from pathlib import Path

from metrics_api.http.certs import server_context
from metrics_api.http.clientcerts import request_client_certificates

log = logging.getLogger("metrics_api")


class ServingTls:
    """`context` is the listener's: it holds the protocol settings and the client CAs. The certificate a
    handshake presents comes from the last pair that loaded whole (`_serving`), chosen per handshake by
    the SNI callback (called for every ClientHello, with or without a server name). A new pair is loaded
    into a fresh context and swapped in only when both files match: a certificate written before its key
    (cert-manager and kubelet Secret updates can be seen half done) leaves the previous pair serving,
    which `SSLContext.load_cert_chain` on the live context would not (it installs the certificate, then
    fails on the key)."""

    def __init__(self, cert_path: Path, key_path: Path, refresh_seconds: float) -> None:
        self.cert_path, self.key_path = cert_path, key_path
        self._refresh = refresh_seconds
        self._loaded = self._signature()
        self.context = server_context(cert_path, key_path)
        self.context.sni_callback = self._present
        self._serving = self.context
        self._trusted: list[str] = []

    def trust_client_cas(self, pem: str) -> None:
        """Request (never require) client certificates once the cluster names client CAs. Which CA signed a
        certificate, and whether that CA still counts, is decided per request by the authenticator: the
        handshake accepts any chain, as kube-apiserver's (http/clientcerts.py). The CAs are loaded too, for
        where that cannot be arranged and OpenSSL verifies against every CA ever trusted here (an
        SSLContext cannot forget one)."""
        if not pem or pem in self._trusted:
            return
        self._trusted.append(pem)
        for context in {self.context, self._serving}:   # a handshake verifies with the store of the context it ends on
            _trust(context, pem)

    async def keep_reloading(self) -> None:
        while True:
            await asyncio.sleep(self._refresh)
            self.reload_if_changed()

    def reload_if_changed(self) -> bool:
        signature = self._signature()
        if signature == self._loaded:
            return False
        try:
            fresh = server_context(self.cert_path, self.key_path)
        except (OSError, ssl.SSLError) as exc:   # e.g. the key not yet written next to a new certificate
            log.warning("serving certificate changed but cannot be loaded yet (still serving the previous one): %s",
                        exc)
            return False
        for pem in self._trusted:
            _trust(fresh, pem)
        self._serving = fresh
        self._loaded = signature
        log.info("serving certificate reloaded from %s", self.cert_path)
        return True

    def _present(self, connection: ssl.SSLObject, server_name: str | None, context: ssl.SSLContext) -> None:
        if self._serving is not context:
            connection.context = self._serving

    def _signature(self) -> tuple:
        """Changes whenever either file is replaced or rewritten (Secret volumes swap a symlink)."""
        stats = []
        for path in (self.cert_path, self.key_path):
            try:
                st = os.stat(path)
                stats.append((st.st_ino, st.st_mtime_ns, st.st_size))
            except OSError:
                stats.append(None)
        return tuple(stats)


def _trust(context: ssl.SSLContext, pem: str) -> None:
    if context.verify_mode != ssl.CERT_OPTIONAL:
        request_client_certificates(context)
    context.load_verify_locations(cadata=pem)
