"""The CI rule: with `CI` set, a missing tool fails the run with a clear message instead of skipping."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tools import REQUIRED, Tool, binary, ci_requested, kubectl_at_least, module, problems

ROOT = Path(__file__).resolve().parents[2]


def fake_kubectl(directory: Path, minor: str) -> Path:
    """A `kubectl` on a PATH of its own that reports client version 1.<minor>."""
    script = directory / "kubectl"
    script.write_text(f'#!/bin/sh\necho \'{{"clientVersion": {{"major": "1", "minor": "{minor}"}}}}\'\n')
    script.chmod(0o755)
    return directory


@pytest.mark.parametrize("minor, problem", [("20", "is 1.20, older than 1.21"), ("21", None), ("32+", None)])
def test_kubectl_version_rule(tmp_path, monkeypatch, minor, problem):
    monkeypatch.setenv("PATH", str(fake_kubectl(tmp_path, minor)))
    found = kubectl_at_least((1, 21))()
    assert found == problem if problem is None else problem in found


def test_missing_tools_are_named_with_how_to_install_them(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    tools = (Tool("absent", binary(str(tmp_path / "absent")), "apt-get install absent"),
             Tool("on-path", binary("on-path"), "pip install on-path"),
             Tool("python module", module("no_such_module_here"), "pip install it"),
             Tool("present", binary(sys.executable), "nothing"))
    assert problems(tools) == [
        f"absent: {tmp_path / 'absent'} not found (install: apt-get install absent)",
        "on-path: on-path not found on PATH (install: pip install on-path)",
        "python module: Python module no_such_module_here not installed (install: pip install it)",
    ]


@pytest.mark.parametrize("value, requested", [("true", True), ("1", True), ("yes", True), ("", False),
                                              ("false", False), ("0", False)])
def test_ci_variable(value, requested):
    assert ci_requested({"CI": value}) is requested
    assert ci_requested({}) is False


def test_every_tool_the_issue_names_has_a_rule():
    assert {tool.name for tool in REQUIRED} == {"prometheus", "promtool", "victoria-metrics", "wrk", "kubectl",
                                                "kubernetes-validate"}


def test_a_ci_run_without_the_tools_fails_before_any_test(tmp_path):
    environment = {**os.environ, "CI": "true", "PATH": str(tmp_path)}   # no wrk, no kubectl on this PATH
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit/test_quantity.py"],
                          cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-2000:]
    assert "CI is set and required tools are missing" in done.stdout + done.stderr
    assert "wrk: wrk not found on PATH" in done.stdout + done.stderr and " passed" not in done.stdout
