#!/usr/bin/env bash
# Throughput of masq-conformance generate against the in-tree agent (docs/performance.md, "Generated
# cases"): COUNT cases (default 600) from a fixed seed on each backend. Each case is one
# sandbox and one agent process that sees up to 6 configs, probed after each. Prints the
# generator's own summary line per backend: cases/min, configs/min, cells compared, and
# any disagreement (which it shrinks, so a run that finds one is slower). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT="${COUNT:-600}"
SEED="${SEED:-1}"
cargo build --release --locked -p ip-masq-agent -p masq-conformance >/dev/null
for backend in legacy nft; do
  out="$(mktemp -d)"
  target/release/masq-conformance generate --seed "$SEED" --count "$COUNT" --backend "$backend" --out "$out" |
    grep '^masq-generate: seed .*cases/min' || true
  rm -rf "$out"
done
