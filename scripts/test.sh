#!/usr/bin/env bash
# Installs everything (scripts/install.sh) and runs the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# .venv/bin first: a kubectl that install.sh had to take from PyPI lives there.
export PATH="$PWD/.venv/bin:$PATH"
exec .venv/bin/python -m pytest -q "$@"
