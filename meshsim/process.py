"""A metrics store run as a child process on 127.0.0.1: start, wait until ready, stop, restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackServer:
    """Subclasses name the binary, its command line and its readiness path. Logs go to
    ``<data_dir>/<name>.log``; ``stop()`` then ``start()`` restarts on the same port; a context manager."""

    name = "server"
    ready_path = "/"
    default_binary = ""

    def __init__(self, data_dir: str | os.PathLike, port: int | None = None, binary: str = "",
                 ready_timeout: float = 60) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.binary = binary or self.default_binary
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self):
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.data_dir / f"{self.name}.log"
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {log_path}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=1) as reply:
                    if reply.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {self.ready_timeout}s; see {log_path}")

    def stop(self, timeout: float = 10) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
