"""The ceiling: a bare aiohttp endpoint answering every request with a precomputed body, over the
same TLS setup as the server (`python -m tests.perf.ceiling BODY_FILE PORT CERT_DIR`)."""
from __future__ import annotations

import sys
from pathlib import Path

from aiohttp import web

from metrics_api.http.certs import ensure_self_signed, server_context


def main(body_file: str, port: str, cert_dir: str) -> None:
    body = Path(body_file).read_bytes()

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    cert, key = ensure_self_signed(Path(cert_dir))
    web.run_app(app, host="127.0.0.1", port=int(port), ssl_context=server_context(cert, key),
                access_log=None, print=None)


if __name__ == "__main__":
    main(*sys.argv[1:])
