#!/usr/bin/env bash
# Runs the whole conformance suite N times in a row (default 10) at its default settings
# (16 cases in flight) and reports every case that failed in any round: the flakiness
# check. Each
# round's full output is kept in target/soak/round-<i>.log. Extra arguments go to
# masq-conformance. Exit status: 0 when every round passed.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
shift || true
scripts/setup.sh >/dev/null
# cargo as you; only the runner needs root.
cargo build --release --locked -q -p ip-masq-agent -p masq-conformance
as_root=()
if [ "$(id -u)" -ne 0 ]; then as_root=(sudo -E env "PATH=$PATH"); fi
mkdir -p target/soak
export INSTA_UPDATE=no INSTA_WORKSPACE_ROOT="$PWD"
failed_rounds=0
for ((i = 1; i <= rounds; i++)); do
  start=$(date +%s)
  if "${as_root[@]}" target/release/masq-conformance "$@" >"target/soak/round-$i.log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed_rounds=$((failed_rounds + 1))
  fi
  echo "round $i/$rounds: $status in $(($(date +%s) - start)) s: $(grep -E '^test result' "target/soak/round-$i.log" || echo 'no result line')"
  # Namespaces of runners that have exited (mcnf-<pid>-...): another run on this machine
  # keeps its own until it ends.
  left="$(ip netns list 2>/dev/null | awk '{print $1}' | while read -r ns; do
    pid="${ns#mcnf-}"; pid="${pid%%-*}"
    if [ "$pid" = "$ns" ] || ! [ -d "/proc/$pid" ]; then echo "$ns"; fi
  done)"
  [ -z "$left" ] || echo "round $i: namespaces left behind: $left"
done
echo
flaky=$(cat target/soak/round-*.log | grep -E '^test .* FAILED$' | sed -E 's/^test \[[a-z]+\] +//; s/ +\.\.\. FAILED$//' | sort | uniq -c || true)
if [ -n "$flaky" ]; then
  echo "cases that failed in some round (count):"
  echo "$flaky"
else
  echo "no case failed in $rounds rounds"
fi
[ "$failed_rounds" -eq 0 ]
