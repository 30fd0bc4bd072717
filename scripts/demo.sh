#!/usr/bin/env bash
# Installs everything (scripts/install.sh), then runs the demo: generated mesh traffic in a real
# Prometheus served by the API on https://127.0.0.1:6443. Extra arguments go to the demo (--mesh istio).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python -m meshsim.demo "$@"
