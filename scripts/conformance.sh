#!/usr/bin/env bash
# README command 1: run the whole conformance suite against the in-tree agent, on both
# iptables backends, from a fresh machine. Installs only what running the suite needs
# (scripts/setup.sh without --for-tests: no Go). Extra arguments go to masq-conformance
# (a name filter, --backend nft, --implementation PROFILE.yaml, --junit FILE, a subcommand
# such as `verify-report FILE`, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p ip-masq-agent -p masq-conformance
if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E env "PATH=$PATH" INSTA_WORKSPACE_ROOT="$PWD" target/release/masq-conformance "$@"
fi
INSTA_WORKSPACE_ROOT="$PWD" exec target/release/masq-conformance "$@"
