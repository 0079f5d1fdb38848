#!/usr/bin/env bash
# README command 2: every check of the project, as CI runs it: format, lints, unit tests,
# the agent's in-namespace tests, the runner's own tests and the conformance suite on both
# backends. Installs what it needs first. Run as root (or it re-runs itself with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E env "PATH=$PATH" "$0" "$@"
fi
scripts/setup.sh
export INSTA_WORKSPACE_ROOT="$PWD"
# Never accept a changed snapshot here: review them with `cargo insta review`.
export INSTA_UPDATE=no

# The GitHub workflow and the conformance action (actionlint + shellcheck): a broken
# workflow fails here too. Installs actionlint into target/tools on first use.
scripts/actionlint.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --release --locked -p ip-masq-agent
cargo build --locked --workspace --all-targets
mkdir -p target
cargo test --workspace --locked --lib --bins --tests -- --test-threads 2 2>&1 | tee target/test-output.log

left=$(ip netns list)
if [ -n "$left" ]; then
  echo "error: network namespaces left behind: $left" >&2
  exit 1
fi
stray=$(find . -path ./target -prune -o -name '*.snap.new' -print)
if [ -n "$stray" ]; then
  echo "error: unreviewed snapshots: $stray" >&2
  exit 1
fi
echo "test.sh: all checks passed"
# One closing line over every test binary (ignored = skipped: not root, or tools missing).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "summary: %d passed, %d failed, %d skipped\n", p, f, s }' target/test-output.log
