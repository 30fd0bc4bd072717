#!/usr/bin/env bash
# Installs everything the project needs on Debian (idempotent): Prometheus + promtool,
# VictoriaMetrics, wrk, Chromium with chromedriver, and a virtualenv in .venv with the package and its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v prometheus >/dev/null || missing+=(prometheus)
command -v promtool >/dev/null || missing+=(prometheus)
command -v victoria-metrics >/dev/null || missing+=(victoria-metrics)
command -v wrk >/dev/null || missing+=(wrk)   # load generator of the benchmarks (tests/perf)
# Headless browser and its WebDriver (same Debian source, so their versions match) for the dashboard tests.
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian enables the packaged Prometheus as a service; the project starts its own on free ports.
if ! command -v kubectl >/dev/null; then
  # Debian's own kubectl (kubernetes-client 1.20) is too old for the kustomize components in deploy/.
  echo "note: kubectl (>= 1.21) is not on PATH: the kubectl and deploy/ test suites will be skipped" >&2
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'
