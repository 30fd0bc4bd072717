"""The README's demo command: generated traffic in a real Prometheus, served; Ctrl-C leaves nothing behind."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from meshsim.process import free_port
from tests.support.serverproc import REPO, https_request


def test_demo_serves_generated_traffic_and_cleans_up(prometheus):   # the fixture ensures Prometheus exists
    port = free_port()
    demo = subprocess.Popen([sys.executable, "-m", "meshsim.demo", "--mesh", "istio", "--secure-port", str(port)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            output.append(line)
            if "Ctrl-C stops" in line or not line:
                break
        text = "".join(output)
        kubeconfig = Path(re.search(r"--kubeconfig=(\S+)", text).group(1))
        workdir = kubeconfig.parent
        url = f"https://127.0.0.1:{port}/apis/metrics.smi-spec.io/v1alpha1/namespaces/shop/deployments/web"
        reply = _wait_for(lambda: https_request(url))
        assert reply.status == 200 and reply.json()["resource"]["name"] == "web"
        split = https_request(f"https://127.0.0.1:{port}/apis/metrics.smi-spec.io/v1alpha2/namespaces/shop/"
                              "trafficsplits/checkout").json()   # the canary, from the demo's routes file
        assert [(i["backend"]["name"], i["backend"]["weight"]) for i in split["items"]] == \
            [("checkout-stable", 900), ("checkout-canary", 100)]
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=30)
        assert demo.returncode == 0, rest
        assert not workdir.exists()
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()


def _wait_for(call, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
