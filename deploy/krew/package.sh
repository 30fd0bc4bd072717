#!/usr/bin/env bash
# Builds the krew archive (the launcher and the license notice), byte for byte reproducible, and prints its
# sha256: the value of `sha256:` in traffic.yaml (tests/unit/test_krew.py checks that they agree).
set -euo pipefail
cd "$(dirname "$0")"
out="${1:-kubectl-traffic.tar.gz}"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode='u+rwX,go+rX,go-w' \
  -cf - kubectl-traffic LICENSE | gzip -n -9 > "$out"
sha256sum "$out" | cut -d' ' -f1
