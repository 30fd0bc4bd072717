"""Shared session fixtures: the default simulated scenario and a real Prometheus
loaded with it (rendered for every mesh in ``meshsim.RENDERERS``)."""

from __future__ import annotations

import os

import pytest

from meshsim import RENDERERS
from meshsim.scenario import Scenario, default_scenario
from meshsim.store import PROMETHEUS, PROMTOOL, PrometheusServer, write_scenario


def pytest_sessionstart(session: pytest.Session) -> None:
    """With `CI` set, a missing tool fails the run here instead of skipping the tests that need it."""
    from tests.support.tools import ci_requested, problems

    if ci_requested() and (missing := problems()):
        pytest.exit("CI is set and required tools are missing (their tests would only skip):\n  "
                    + "\n  ".join(missing), returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    """default_scenario() at session start (samples now-20min … now+60min, step 10s)."""
    return default_scenario()


@pytest.fixture(scope="session")
def meshes() -> tuple[str, ...]:
    """Every mesh the ``prometheus`` fixture holds series for."""
    return tuple(RENDERERS)


@pytest.fixture(scope="session")
def prometheus(scenario, meshes, tmp_path_factory):
    """A running PrometheusServer (``.url``) with ``scenario`` backfilled for all meshes."""
    for binary in (PROMETHEUS, PROMTOOL):
        if not os.path.exists(binary):
            pytest.skip(f"{binary} is missing: install Prometheus (Debian package 'prometheus') to run these tests")
    data = tmp_path_factory.mktemp("prometheus")
    write_scenario(scenario, meshes, data)
    server = PrometheusServer(data)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def api_server(prometheus, tmp_path_factory):
    """`api_server(mesh, *flags)` → a ServerProcess (`python -m metrics_api serve --local`) on the shared
    Prometheus; one per distinct (mesh, flags), stopped at session end."""
    from tests.support.serverproc import ServerProcess, server_pool

    certs = tmp_path_factory.mktemp("server")
    with server_pool(lambda mesh, *flags: ServerProcess(prometheus.url, "--mesh", mesh, *flags,
                                                        cert_dir=certs)) as start:
        yield start


@pytest.fixture(scope="module")
def recording_proxy(prometheus):
    """A tests/support/faultproxy.FaultProxy in front of the shared Prometheus (`.url`, `.queries`)."""
    from tests.support.faultproxy import fault_proxy

    with fault_proxy(prometheus.url) as proxy:
        yield proxy
