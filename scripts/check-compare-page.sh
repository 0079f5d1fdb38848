#!/usr/bin/env bash
# Renders `masq-conformance compare --html` for the given reports in headless Chromium
# (Debian's package, installed when missing) and writes a screenshot, so that a person
# looks at the page as users will: scripts/check-compare-page.sh OUT.png REPORT...
# The page must load with no network at all: Chromium runs with networking features off.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 OUT.png REPORT..." >&2; exit 2; }
out="$1"; shift
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v chromium >/dev/null 2>&1; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
cargo build --release --locked -q -p masq-conformance
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
target/release/masq-conformance compare --html "$work/matrix.html" "$@" >/dev/null
if grep -Eq '(src|href)="(https?:)?//' "$work/matrix.html"; then
  echo "check-compare-page: the page refers to an external asset" >&2
  exit 1
fi
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/profile" --window-size=1300,1100 \
  --screenshot="$out" "file://$work/matrix.html" >/dev/null 2>&1
size=$(stat -c %s "$out")
[ "$size" -gt 20000 ] || { echo "check-compare-page: $out is only $size bytes: did the page render?" >&2; exit 1; }
echo "check-compare-page: $out ($size bytes): look at it"
