"""The krew manifest (deploy/krew/traffic.yaml): krew's Plugin schema as krew validates it
(pkg/index/validation in kubernetes-sigs/krew), the archive's checksum, and the launcher it installs."""
from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import yaml

from tests.support.serverproc import REPO

KREW = REPO / "deploy" / "krew"
MANIFEST = yaml.safe_load((KREW / "traffic.yaml").read_text())
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def test_manifest_follows_krews_plugin_schema():
    assert MANIFEST["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert MANIFEST["kind"] == "Plugin"
    assert MANIFEST["metadata"]["name"] == "traffic"   # `kubectl traffic`
    spec = MANIFEST["spec"]
    assert spec["version"] == f"v{VERSION}"               # krew wants a v-prefixed semantic version
    assert spec["shortDescription"] and len(spec["shortDescription"]) <= 50
    assert spec["homepage"].startswith("https://") and spec["description"]
    [platform] = spec["platforms"]
    assert platform["selector"]["matchExpressions"] == [{"key": "os", "operator": "In", "values": ["linux", "darwin"]}]
    assert re.fullmatch(r"[0-9a-f]{64}", platform["sha256"])
    assert platform["uri"].startswith("https://") and f"/v{VERSION}/" in platform["uri"]
    assert platform["bin"] == "kubectl-traffic"
    assert {f["from"] for f in platform["files"]} == {"kubectl-traffic", "LICENSE"}


def test_the_archive_package_sh_builds_has_the_manifests_checksum(tmp_path):
    printed = subprocess.run(["bash", str(KREW / "package.sh"), str(tmp_path / "plugin.tar.gz")], check=True,
                             capture_output=True, text=True, timeout=30).stdout.strip()
    assert printed == MANIFEST["spec"]["platforms"][0]["sha256"], "rebuild: deploy/krew/package.sh, update sha256"


def test_the_launcher_runs_the_installed_console_script(tmp_path):
    """Once its virtualenv exists, the launcher execs that virtualenv's kubectl-traffic with the arguments."""
    launcher = (KREW / "kubectl-traffic").read_text()
    assert f"version={VERSION}\n" in launcher
    installed = tmp_path / "kubectl-traffic" / VERSION / "bin"
    installed.mkdir(parents=True)
    (installed / "kubectl-traffic").write_text('#!/bin/sh\necho "ran with: $*"\n')
    (installed / "kubectl-traffic").chmod(0o755)
    done = subprocess.run(["sh", str(KREW / "kubectl-traffic"), "top", "-n", "shop"], capture_output=True, text=True,
                          env={**os.environ, "XDG_DATA_HOME": str(tmp_path)}, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (0, "ran with: top -n shop\n", "")


def test_the_launcher_refuses_an_old_python(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python3").write_text("#!/bin/sh\nexit 1\n")   # what `sys.exit(version < 3.11)` returns on 3.10
    (fake / "python3").chmod(0o755)
    done = subprocess.run(["sh", str(KREW / "kubectl-traffic"), "top"], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "XDG_DATA_HOME": str(tmp_path), "PATH": f"{fake}:{os.environ['PATH']}"})
    assert (done.returncode, done.stderr) == (1, "error: kubectl traffic needs Python 3.11 or newer as python3\n")
    assert not Path(tmp_path / "kubectl-traffic").exists()
