#!/usr/bin/env bash
# Imports point one way: each crate that declares its layers (<crate>/layers.txt, bottom
# first) is checked against them, and no two top-level modules may import each other in
# a cycle. Fails naming the file, line and import. `--count` prints the cycles of both
# crates (declared or not); `--self-test` checks the checker on a tiny tree with a
# back-edge. No dependencies beyond Python 3 (scripts/check_layers.py does the work).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -eq 0 ]; then
  python3 scripts/check_layers.py --self-test
  exec python3 scripts/check_layers.py
fi
exec python3 scripts/check_layers.py "$@"
