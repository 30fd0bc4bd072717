"""`kubectl traffic` as users run it: the real kubectl finding the console script `kubectl-traffic` on PATH."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support.serverproc import REPO

KUBECTL = shutil.which("kubectl")


def install_script(directory: Path) -> Path:
    """A `kubectl-traffic` as pip writes it for the `[project.scripts]` entry, running this checkout (the
    shared virtualenv's own script may belong to another checkout). Returns the directory to put on PATH."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "kubectl-traffic"
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom metrics_api.client.main import main\n"
                      "sys.exit(main())\n")
    script.chmod(0o755)
    return directory


@dataclass
class Plugin:
    bin_dir: Path
    kubeconfig: Path | None

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
               "PYTHONPATH": str(REPO)}
        env.pop("KUBECONFIG", None)
        if self.kubeconfig is not None:
            env["KUBECONFIG"] = str(self.kubeconfig)
        return env

    def command(self, *args: str) -> list[str]:
        assert KUBECTL, "kubectl is not on PATH"
        return [KUBECTL, "traffic", *args]

    def run(self, *args: str, ok: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        done = subprocess.run(self.command(*args), env=self.env(), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        if ok:
            assert done.returncode == 0, f"kubectl traffic {' '.join(args)}: {done.stderr}"
        return done

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(*args), env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True)

    def table(self, *args: str) -> tuple[list[str], list[dict[str, str]]]:
        """A printed table as (header, rows); no cell of `top` or `edges` contains a space."""
        lines = self.run(*args).stdout.splitlines()
        header = lines[0].split()
        return header, [dict(zip(header, line.split(), strict=True)) for line in lines[1:]]


def kubeconfig_for(path: Path, port: int, user: dict[str, str], namespace: str | None = None) -> Path:
    """A kubeconfig for a user (a token, or client-certificate/client-key files) of the server on `port`."""
    context = {"cluster": "smi", "user": "me", **({"namespace": namespace} if namespace else {})}
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "smi",
        "clusters": [{"name": "smi", "cluster": {"server": f"https://127.0.0.1:{port}", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "me", "user": user}],
        "contexts": [{"name": "smi", "context": context}],
    }))
    return path
