#!/usr/bin/env bash
# README command 2: every check of the project, as CI runs it: format, lints, the declared
# rust-version, unit tests, the agent's in-namespace tests, the runner's own tests and the
# conformance suite on both backends. Installs what it needs first: what the suite needs,
# and Go with the reference's YAML libraries for the agent's differential test
# (scripts/setup.sh --for-tests).
#
# Cargo runs as you; only the test binaries need root. Started by an ordinary user, the
# test binaries run under `sudo -E` (cargo's target runner), so nothing in target/ becomes
# root's; started as root (CI), they simply run. A test that cannot run is reported as
# ignored with its reason, and under CI=true it fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --for-tests
export INSTA_WORKSPACE_ROOT="$PWD"
# Never accept a changed snapshot here: review them with `cargo insta review`.
export INSTA_UPDATE=no

# The GitHub workflow and the conformance action (actionlint + shellcheck): a broken
# workflow fails here too. Installs actionlint into target/tools on first use.
scripts/actionlint.sh
cargo fmt --all -- --check
# Imports point one way (conformance/layers.txt; agent/layers.txt once it exists).
scripts/check-layers.sh
mkdir -p target
scripts/check-rust-version.sh
scripts/check-standalone.sh
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --release --locked -p ip-masq-agent
cargo build --locked --workspace --all-targets

if [ "$(id -u)" -ne 0 ]; then
  host="$(rustc -vV | sed -n 's/^host: //p')"
  runner_var="CARGO_TARGET_$(echo "$host" | tr 'a-z-' 'A-Z_')_RUNNER"
  export "$runner_var=sudo -E"
  echo "test.sh: test binaries run as root through $runner_var='sudo -E'"
fi
cargo test --workspace --locked --lib --bins --tests 2>&1 | tee target/test-output.log

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
# One closing line over every test binary (ignored = could not run here: not root, or a
# tool missing; under CI=true that fails the run above instead).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "summary: %d passed, %d failed, %d skipped\n", p, f, s }' target/test-output.log
