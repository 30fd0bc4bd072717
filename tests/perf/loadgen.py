"""Load generation with `wrk` (Debian package `wrk`): C, one thread, so the Python server under test
gets the other core. A Lua `done()` hook prints the figures as JSON so nothing is scraped from text."""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

WRK = "wrk"

_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format('{"requests":%d,"seconds":%f,"errors":%d,"non2xx":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
"""

# Each connection waits `pause` ms after every response: an (approximately) paced load whose
# latency figures do not include the pause.
_PACED = """
local pause = tonumber(os.getenv("WRK_PAUSE_MS"))
delay = function() return pause end
"""

_POST = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = os.getenv("WRK_BODY")
"""


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    errors: int        # socket errors and timeouts
    non2xx: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def available() -> bool:
    return shutil.which(WRK) is not None


def run(url: str, *, connections: int, seconds: float, pause_ms: float | None = None,
        post_body: str | None = None, timeout_s: float = 10.0) -> Load:
    script = _REPORT + (_PACED if pause_ms is not None else "") + (_POST if post_body is not None else "")
    env = {"WRK_PAUSE_MS": str(pause_ms or 0), "WRK_BODY": post_body or ""}
    with tempfile.TemporaryDirectory() as scratch:
        lua = Path(scratch) / "report.lua"
        lua.write_text(script)
        proc = subprocess.run(
            [WRK, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", f"--timeout={max(1, round(timeout_s))}s", "-s", str(lua), url],
            capture_output=True, text=True, env=env, timeout=seconds + timeout_s + 30)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return Load(report["requests"], report["seconds"], report["errors"], report["non2xx"],
                report["p50_us"] / 1000, report["p99_us"] / 1000)
