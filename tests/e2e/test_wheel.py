"""The wheel users install: built with `pip wheel .`, installed (not editable) into a fresh virtualenv,
it carries every pack and `py.typed`, no simulator, and serves each mesh against a real Prometheus."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from meshsim.demo import write_kubeconfig
from metrics_api.apis.smi import API_PREFIX
from tests.support.serverproc import REPO, ServerProcess

PACKS = sorted(p.name for p in (REPO / "queries").glob("*.yaml"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
                    str(REPO)], check=True, timeout=300, capture_output=True)
    [built] = out.glob("smi_metrics_api-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel and its dependencies; returns its bin/ folder."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], check=True, timeout=600,
                   capture_output=True)
    return venv / "bin"


def test_the_wheel_ships_the_packs_and_not_the_simulator(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("metrics_api/queries/")) == PACKS
    assert "metrics_api/py.typed" in names
    assert {n for n in names if n.startswith("metrics_api/client/static/")} == {
        f"metrics_api/client/static/{f}" for f in ("index.html", "dashboard.css", "dashboard.js", "icon.svg")}
    [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "kubectl-traffic = metrics_api.client.main:main" in scripts
    assert not [n for n in names if n.startswith("meshsim/") or "/sim/" in n or n.startswith("tests/")]
    assert PACKS, "queries/ holds the packs"


@pytest.mark.parametrize("mesh", ["linkerd", "istio"])
def test_the_installed_wheel_serves_a_mesh(installed, prometheus, mesh, tmp_path):
    server = ServerProcess(prometheus.url, "--mesh", mesh, cert_dir=tmp_path,
                           command=(str(installed / "smi-metrics-api"),), cwd=tmp_path)
    try:
        reply = server.get(f"{API_PREFIX}/namespaces/shop/deployments/web")
        assert reply.status == 200, reply.body
        assert reply.json()["resource"] == {"kind": "Deployment", "namespace": "shop", "name": "web"}
    finally:
        server.stop()
    # the installed package is the wheel's, not this checkout
    where = subprocess.run([str(installed / "python"), "-c", "import metrics_api; print(metrics_api.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert str(REPO) not in where and "site-packages" in where


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_kubectl_finds_the_installed_plugin(installed, api_server, tmp_path):
    """The wheel's console script `kubectl-traffic`, found by the real kubectl on PATH."""
    kubeconfig = write_kubeconfig(tmp_path / "config", api_server("linkerd").port)
    done = subprocess.run(["kubectl", "traffic", "top", "-n", "shop"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env={**os.environ, "PATH": f"{installed}{os.pathsep}{os.environ['PATH']}",
                                             "KUBECONFIG": str(kubeconfig)})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P90", "LATENCY_P99"]
    # the scenario's workloads in shop (meshsim/scenario.py default_scenario), sorted by name
    assert [line.split()[0] for line in lines[1:]] == ["api", "checkout-canary", "checkout-stable", "db", "idle", "web"]
