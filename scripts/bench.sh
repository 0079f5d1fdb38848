#!/usr/bin/env bash
# Prints the project's performance figures (benchmarks, never assertions):
#   1. the agent: parse/render of 10,000 CIDRs in-process; --dry-run wall time and peak RSS
#      for 10,000 CIDRs; --once sync time for 64 and 10,000 CIDRs in a throwaway network
#      namespace on each iptables backend; resident memory after 10 idle resyncs.
#      With IP_MASQ_AGENT_GO=/path/to/reference-binary, the reference's idle RSS beside it.
#   2. the suite: sandbox setup+teardown with rtnetlink vs `ip` commands (ratio); the whole
#      suite's wall time with 1 and 2 test threads; per-case overhead by phase.
#   3. flows: new TCP and UDP flows per second from a pod to an internet address through the
#      node, with 64, 1,000 and 10,000 CIDRs on iptables-legacy, iptables-nft and nftables.
# Usage: scripts/bench.sh [agent|suite|flows|all]   (as root; installs GNU time if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then exec sudo -E env "PATH=$PATH" "$0" "$@"; fi
what=${1:-all}
scripts/setup.sh >/dev/null
if [ ! -x /usr/bin/time ]; then
  apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
fi
cargo build --release --locked -q -p ip-masq-agent -p masq-conformance
AGENT=$PWD/target/release/ip-masq-agent
work=$(mktemp -d /tmp/mcnf-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

cidrs() { # N -> config with N distinct /24s
  local n=$1
  echo "cidrLimit: $n"
  echo "resyncInterval: 100ms"
  echo "nonMasqueradeCIDRs:"
  for ((i = 0; i < n; i++)); do echo "  - 10.$((i / 256)).$((i % 256)).0/24"; done
}
# shellcheck source=scripts/lib/bench-common.sh
. scripts/lib/bench-common.sh

agent_figures() {
  echo "== agent =="
  cargo bench -q -p ip-masq-agent --bench render 2>/dev/null | grep CIDRs
  cidrs 64 >"$work/c64.yaml"
  cidrs 10000 >"$work/c10k.yaml"
  local t rss runs=()
  for _ in 1 2 3 4 5; do
    # --dry-run touches nothing, but runs in a throwaway namespace all the same
    # (unshare execs the agent in place, so %M is the agent's own peak RSS).
    local t0; t0=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$work/t" unshare --net "$AGENT" --dry-run --config "$work/c10k.yaml" >/dev/null
    runs+=("$(( ($(date +%s%N) - t0) / 1000 )) $(cat "$work/t")")
  done
  t=$(printf '%s\n' "${runs[@]}" | awk '{print $1 / 1000}' | median)
  rss=$(printf '%s\n' "${runs[@]}" | awk '{print $2}' | median)
  echo "--dry-run, 10000 CIDRs: ${t} ms wall (process start to exit), peak RSS ${rss} KiB (median of 5)"
  for backend in legacy nft; do
    local bin; bin=$(shims "$backend")
    for n in 64 10k; do
      runs=()
      for _ in 1 2 3; do
        # A fresh namespace per run: the first sync creates chain, jump and rules.
        local t0; t0=$(date +%s%N)
        unshare --net env "PATH=$bin:$PATH" "$AGENT" --once --config "$work/c$n.yaml" 2>/dev/null
        runs+=("$(( ($(date +%s%N) - t0) / 1000000 ))")
      done
      echo "--once sync, $n CIDRs, $backend: $(printf '%s\n' "${runs[@]}" | median) ms wall (median of 3, each in a new namespace, unshare included)"
    done
  done
  local bin; bin=$(shims legacy)
  unshare --net env "PATH=$bin:$PATH" "$AGENT" --config "$work/c64.yaml" 2>/dev/null &
  local pid=$!
  sleep 1.5 # >= 10 resyncs at 100ms
  echo "daemon after >=10 idle resyncs (64 CIDRs, 100ms): $(awk '/VmRSS/ {print $2, $3}' "/proc/$pid/status") resident"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  if [ -n "${IP_MASQ_AGENT_GO:-}" ]; then
    # The reference reads only /etc/config/ip-masq-agent: give it one in a private /etc.
    mkdir -p "$work/etc-upper" "$work/etc-work"
    unshare --net --mount --fork bash -c '
      mount -t overlay overlay -o lowerdir=/etc,upperdir='"$work"'/etc-upper,workdir='"$work"'/etc-work /etc
      mkdir -p /etc/config && cp '"$work"'/c64.yaml /etc/config/ip-masq-agent
      PATH='"$bin"':$PATH "$IP_MASQ_AGENT_GO" --logtostderr=false 2>/dev/null &
      pid=$!; sleep 1.5
      echo "reference daemon after >=10 idle resyncs: $(awk "/VmRSS/ {print \$2, \$3}" /proc/$pid/status) resident"
      kill $pid'
  else
    echo "(set IP_MASQ_AGENT_GO=/path/to/reference/ip-masq-agent to measure the reference beside it)"
  fi
}

suite_figures() {
  echo "== suite =="
  cargo bench -q -p masq-conformance --bench sandbox 2>/dev/null | grep -v '^$'
  local n_fixtures; n_fixtures=$(ls fixtures/*.yaml | wc -l)
  for threads in 1 2; do
    local start end
    start=$(date +%s.%N)
    target/release/masq-conformance --test-threads "$threads" --timings "$work/timings-$threads.jsonl" -q >"$work/suite-$threads.log" 2>&1 || {
      echo "suite failed with $threads thread(s):"; grep -E '^test result|FAILED' "$work/suite-$threads.log"; }
    end=$(date +%s.%N)
    printf 'whole suite (%s fixtures x 2 backends), %s thread(s): %.1f s wall\n' "$n_fixtures" "$threads" "$(echo "$end - $start" | bc)"
  done
  python3 - "$work/timings-1.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
phases = {}
for r in rows:
    for k, v in r["phases_ms"].items():
        phases.setdefault(k, []).append(v)
print(f"per-case overhead, 1 thread, mean over {len(rows)} cases (ms):")
for k, v in phases.items():
    print(f"  {k:<22} {sum(v)/len(rows):8.1f}")
print(f"  {'total':<22} {sum(r['total_ms'] for r in rows)/len(rows):8.1f}")
PY
}

flow_figures() { # new flows/s through the node by datapath and list length (conformance/benches/flows.rs)
  echo "== flows: per-flow cost of the rules (64 / 1,000 / 10,000 CIDRs, each datapath)"
  IP_MASQ_AGENT_BIN=$AGENT cargo bench --locked -q -p masq-conformance --bench flows
}

case $what in
  agent) agent_figures ;;
  suite) suite_figures ;;
  flows) flow_figures ;;
  all) agent_figures; suite_figures; flow_figures ;;
  *) echo "usage: $0 [agent|suite|flows|all]" >&2; exit 2 ;;
esac
