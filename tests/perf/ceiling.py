"""The ceiling: a bare aiohttp endpoint answering every request with a precomputed body, on the server's own
TLS listener and event loop (`python -m tests.perf.ceiling BODY_FILE PORT CERT_DIR [uvloop|asyncio]`)."""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiohttp import web

from metrics_api.cli.eventloop import EventLoop, run
from metrics_api.http.certs import ensure_self_signed, server_context
from metrics_api.http.listener import listen


async def serve(body: bytes, port: int, cert_dir: Path) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    cert, key = ensure_self_signed(cert_dir)
    await listen(app, "127.0.0.1", port, server_context(cert, key), drain_seconds=0)
    await asyncio.Event().wait()   # until terminated


def main(body_file: str, port: str, cert_dir: str, loop: str = EventLoop.UVLOOP.value) -> None:
    run(serve(Path(body_file).read_bytes(), int(port), Path(cert_dir)), EventLoop(loop))


if __name__ == "__main__":
    main(*sys.argv[1:])
