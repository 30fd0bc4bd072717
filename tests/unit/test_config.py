"""Settings: flags over environment over --config file, and one clear line for bad settings."""
from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from metrics_api.cli.config import ConfigError, add_flags, settings_from


def settings(argv: list[str], environ: dict[str, str] | None = None):
    parser = argparse.ArgumentParser()
    add_flags(parser)
    return settings_from(parser.parse_args(argv), environ or {})


def test_defaults():
    s = settings(["--prometheus-url", "http://prom:9090"])
    assert (s.mesh, s.secure_port, s.bind_address, s.local) == ("auto", 6443, "0.0.0.0", False)


def test_precedence_flag_over_env_over_file(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("prometheus_url: http://file:9090\nmesh: istio\nsecure-port: 7443\ncache_ttl: 2\n")
    env = {"SMI_METRICS_MESH": "linkerd", "SMI_METRICS_CONFIG": str(config)}
    s = settings(["--secure-port", "8443"], env)
    assert (s.prometheus_url, s.mesh, s.secure_port, s.cache_ttl) == ("http://file:9090", "linkerd", 8443, 2.0)


def test_local_mode_binds_loopback_unless_given_a_loopback_address():
    assert settings(["--prometheus-url", "http://p", "--local"]).bind_address == "127.0.0.1"
    assert settings(["--prometheus-url", "http://p", "--local", "--bind-address", "0.0.0.0"]).bind_address == "127.0.0.1"
    assert settings(["--prometheus-url", "http://p", "--local", "--bind-address", "::1"]).bind_address == "::1"
    assert settings(["--prometheus-url", "http://p"], {"SMI_METRICS_LOCAL": "true"}).local is True


@pytest.mark.parametrize("argv, environ, message", [
    ([], {}, "--prometheus-url is required"),
    (["--prometheus-url", "prom:9090"], {}, "must be an http"),
    (["--prometheus-url", "http://p", "--secure-port", "http"], {}, "--secure-port"),
    (["--prometheus-url", "http://p", "--secure-port", "70000"], {}, "not a port"),
    (["--prometheus-url", "http://p", "--tls-cert-file", "a.crt"], {}, "go together"),
    (["--prometheus-url", "http://p"], {"SMI_METRICS_LOCAL": "maybe"}, "not a boolean"),
    (["--prometheus-url", "http://p", "--config", "/nonexistent.yaml"], {}, "cannot read --config"),
])
def test_bad_settings_are_one_clear_error(argv, environ, message):
    with pytest.raises(ConfigError, match=message):
        settings(argv, environ)


def test_unknown_keys_in_config_file(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("prometheus_url: http://p\nprometheus_ulr: http://typo\n")
    with pytest.raises(ConfigError, match="unknown setting.*prometheus_ulr"):
        settings(["--config", str(config)])


@pytest.mark.parametrize("argv", [
    ["serve"],
    ["serve", "--prometheus-url", "http://127.0.0.1:1", "--mesh", "nosuchmesh", "--local"],
    ["serve", "--prometheus-url", "http://127.0.0.1:1", "--config", "/nonexistent"],
])
def test_command_line_exits_non_zero_with_one_line(argv):
    done = subprocess.run([sys.executable, "-m", "metrics_api", *argv], capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("smi-metrics-api: "), done.stderr


def test_event_loop_is_uvloop_unless_asyncio_is_asked_for():
    from metrics_api.cli.eventloop import EventLoop, run

    assert settings(["--prometheus-url", "http://p"]).event_loop is EventLoop.UVLOOP
    assert settings(["--prometheus-url", "http://p"], {"SMI_METRICS_EVENT_LOOP": "asyncio"}).event_loop is EventLoop.ASYNCIO
    with pytest.raises(ConfigError, match="--event-loop 'trio': use uvloop or asyncio"):
        settings(["--prometheus-url", "http://p", "--event-loop", "trio"])

    async def loop_module() -> str:
        import asyncio

        return type(asyncio.get_running_loop()).__module__

    assert run(loop_module(), EventLoop.UVLOOP).startswith("uvloop")
    assert run(loop_module(), EventLoop.ASYNCIO).startswith("asyncio")
