#!/usr/bin/env bash
# The agent's sync time per datapath (a benchmark, never a test): for 64, 1,000 and
# 10,000 nonMasqueradeCIDRs (cidrLimit raised; every other /24, so the nftables datapath
# has as many set elements as the config has entries, nothing merges), on iptables-legacy,
# iptables-nft and the native nftables datapath.
#
# Each run is a fresh network namespace (`unshare --net`) in which the agent runs
# `--once` twice (the first sync creates everything, the second rewrites it: what a new
# process does over an existing table), then as a daemon until its third round (a daemon
# whose config and rules did not change: the iptables datapath rewrites its rules, the
# nftables datapath reads the ruleset generation and sends nothing), then one CIDR is
# added to the config and the daemon's round for it is timed (the nftables datapath
# sends that one element; the iptables datapath rewrites its chain). Reported, median of
# RUNS runs:
#   first / resync  the agent's own figure for the apply itself, from its "synced:" line
#                   ("applied in X ms"): iptables-restore + the POSTROUTING jump check, or
#                   the nftables datapath's sync (nft's table-and-sets transaction, the
#                   sets' elements read back and their difference sent over netlink, nft's
#                   rules transaction, and the check after them: the generation and a dump
#                   of the table's chains and sets, or `nft list table`); child process
#                   start included, the config parse, the --random-fully probe and the
#                   removal of the other datapath's leftovers excluded;
#   unchanged       the same figure for the daemon's third round;
#   one added       the same figure for the daemon's round after one CIDR was added;
#   wall            the whole `--once` process of the resync, start to exit;
#   cpu             user+sys CPU of that process and its children (iptables/nft), which
#                   a loaded machine inflates far less than wall time.
#
# STEPS=1 runs the nftables daemon with --v=4 and prints, after the table, the agent's own
# figures for the one-CIDR round (its "nft round:" debug line, medians): wall, this
# thread's CPU, the wait for a CPU while runnable, and the element batch's CPU (the
# kernel's commit included). On a loaded machine the CPU figures say what the round
# costs; the wall figures say what the load added. The debug clock itself (a few
# /proc reads per step) is then inside the apply figure: read that column from a run
# without STEPS.
# Usage: scripts/bench-sync.sh            (as root; RUNS=7 by default; SIZES="64 1000 10000";
#                                          DATAPATHS="iptables-legacy iptables-nft nftables")
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then exec sudo -E env "PATH=$PATH" "$0" "$@"; fi
RUNS=${RUNS:-7}
SIZES=${SIZES:-64 1000 10000}
DATAPATHS=${DATAPATHS:-iptables-legacy iptables-nft nftables}
STEPS=${STEPS:-}
scripts/setup.sh >/dev/null
cargo build --release --locked -q -p ip-masq-agent
AGENT=$PWD/target/release/ip-masq-agent
work=$(mktemp -d /tmp/mcnf-bench-sync.XXXXXX)
trap 'rm -rf "$work"' EXIT

cidrs() { # N -> config with N /24s, no two adjacent
  local n=$1
  echo "cidrLimit: $((n + 1))" # room for the one CIDR added
  echo "resyncInterval: 200ms"
  echo "nonMasqueradeCIDRs:"
  for ((i = 0; i < n; i++)); do echo "  - 10.$((i / 128)).$(((i % 128) * 2)).0/24"; done
}
# shellcheck source=scripts/lib/bench-common.sh
. scripts/lib/bench-common.sh

# One run in a fresh namespace: prints "first_ms resync_ms wall_ms cpu_ms unchanged_ms
# added_ms", then with STEPS on the nftables datapath the one-CIDR round's own figures
# "round_wall_ms round_cpu_ms round_waited_ms batch_cpu_ms" (else four "-").
one_run() {
  local bin=$1 datapath=$2 cfg=$3 verbosity=0
  if [ -n "$STEPS" ] && [ "$datapath" = nftables ]; then verbosity=4; fi
  unshare --net env "PATH=$bin:$PATH" AGENT="$AGENT" DATAPATH="$datapath" CFG="$cfg" OUT="$work/out" V="$verbosity" bash -c '
    "$AGENT" --once --datapath "$DATAPATH" --config "$CFG" 2>"$OUT.1"
    # bash'"'"'s time: wall, user and sys (children included) with millisecond resolution.
    TIMEFORMAT="%3R %3U %3S"
    { time "$AGENT" --once --datapath "$DATAPATH" --config "$CFG" 2>"$OUT.2"; } 2>"$OUT.t"
    a1=$(sed -n "s/.*applied in \([0-9.]*\) ms.*/\1/p" "$OUT.1")
    a2=$(sed -n "s/.*applied in \([0-9.]*\) ms.*/\1/p" "$OUT.2")
    read -r wall user sys <"$OUT.t"
    wall=$(awk -v w="$wall" "BEGIN {printf \"%.0f\", w * 1000}")
    cpu=$(awk -v u="$user" -v s="$sys" "BEGIN {printf \"%.0f\", (u + s) * 1000}")
    [ -n "$a1" ] && [ -n "$a2" ] || { cat "$OUT.1" "$OUT.2" >&2; exit 1; }
    # The daemon, until its third "synced:" line (30 s at most), then stopped.
    "$AGENT" --datapath "$DATAPATH" --config "$CFG" --v="$V" 2>"$OUT.3" &
    daemon=$!
    for _ in $(seq 300); do
      [ "$(grep -c "synced: " "$OUT.3")" -ge 3 ] && break
      sleep 0.1
    done
    # One CIDR more (a /24 no other entry touches), written as a new file renamed over
    # the old one; then the round that applies it.
    more="synced: $(($(grep -c "^  - " "$CFG") + 1)) nonMasqueradeCIDRs"
    { cat "$CFG"; echo "  - 192.168.255.0/24"; } >"$CFG.new"
    cp "$CFG" "$CFG.orig"
    mv "$CFG.new" "$CFG"
    for _ in $(seq 300); do
      grep -q "$more" "$OUT.3" && break
      sleep 0.1
    done
    mv "$CFG.orig" "$CFG"
    kill "$daemon"; wait "$daemon" || true
    a3=$(sed -n "s/.*applied in \([0-9.]*\) ms.*/\1/p" "$OUT.3" | sed -n 3p)
    a4=$(grep "$more" "$OUT.3" | sed -n "s/.*applied in \([0-9.]*\) ms.*/\1/p" | sed -n 1p)
    [ -n "$a3" ] && [ -n "$a4" ] || { cat "$OUT.3" >&2; exit 1; }
    # The one-CIDR round is the last one that sent an element batch.
    steps=$(grep "nft round: .*element batch" "$OUT.3" | tail -n 1 | sed -n "s/.*element batch [0-9.]* ms (\([0-9.]*\) CPU.*total \([0-9.]*\) ms (\([0-9.]*\) ms of this thread.s CPU, \([0-9.]*\) ms waiting.*/\2 \3 \4 \1/p")
    echo "$a1 $a2 $wall $cpu $a3 $a4 ${steps:-- - - -}"'
}

# The reference Go agent (IP_MASQ_AGENT_GO=/path/to/binary; docs/performance.md says how
# to build it), for the same sizes up to its limit of 64 CIDRs, in a fresh network and
# mount namespace (it reads the fixed path /etc/config/ip-masq-agent: /etc is overlaid
# there). It prints no timing of its own: its iptables commands are traced (strace,
# execve and exit only, filtered in the kernel) and a round is the span from the first
# command's start to the last one's end, rounds being separated by its 200 ms period.
# Prints "first_ms resync_ms" (resync: the median of its next rounds, which rewrite the
# chain as every round of it does).
ref_run() {
  local bin=$1 cfg=$2 dir
  dir=$(mktemp -d "$work/ref.XXXXXX")
  mkdir "$dir/u" "$dir/w"
  sed '/^cidrLimit:/d' "$cfg" >"$dir/config"
  # A PID namespace of its own, whose pid 1 is this bash: `kill -9 -1` ends the reference
  # and strace together (strace outlives a SIGTERM), and the timeout bounds the whole.
  timeout -s KILL 20 unshare --net --mount --pid --fork --mount-proc --propagation private \
    env "PATH=$bin:$PATH" DIR="$dir" REF="$IP_MASQ_AGENT_GO" bash -c '
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$DIR/u,workdir=$DIR/w" /etc
    mkdir -p /etc/config && cp "$DIR/config" /etc/config/ip-masq-agent
    strace --seccomp-bpf -f -ttt -qq -e trace=execve,exit_group -o "$DIR/trace" "$REF" --logtostderr 2>"$DIR/log" &
    sleep 1.5; kill -9 -1; wait' || true
  awk '
    / execve\(".*tables[^"]*", / && !/--version/ { start[$1] = $2; next }
    / exit_group\(/ && ($1 in start) { print start[$1], $2; delete start[$1] }' "$dir/trace" |
    sort -g | awk '
    NR == 1 || $1 - last > 0.1 { if (NR > 1) print (end - first) * 1000; first = $1 }
    { last = $2; end = $2 }
    END { if (NR) print (end - first) * 1000 }' >"$dir/rounds"
  [ "$(wc -l <"$dir/rounds")" -ge 3 ] || { cat "$dir/log" >&2; return 1; }
  echo "$(sed -n 1p "$dir/rounds") $(sed -n '2,$p' "$dir/rounds" | median)"
}

echo "nftables $(nft --version | awk '{print $2}'), iptables $(/usr/sbin/xtables-legacy-multi iptables --version | awk '{print $2}'), kernel $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '\n| CIDRs | datapath | first sync, apply (ms) | resync, apply (ms) | resync, --once wall (ms) | resync, --once CPU (ms) | daemon, unchanged round, apply (ms) | daemon, one CIDR added, apply (ms) |\n'
printf '|---:|---|---:|---:|---:|---:|---:|---:|\n'
steps_line=
for n in $SIZES; do
  cidrs "$n" >"$work/c$n.yaml"
  for dp in $DATAPATHS; do
    case $dp in
      iptables-legacy) bin=$(shims legacy); datapath=iptables ;;
      iptables-nft) bin=$(shims nft); datapath=iptables ;;
      nftables) bin=$(shims nft); datapath=nftables ;;
    esac
    : >"$work/runs"
    for ((r = 0; r < RUNS; r++)); do one_run "$bin" "$datapath" "$work/c$n.yaml" >>"$work/runs"; done
    col() { awk -v c="$1" '{print $c}' "$work/runs" | median; }
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$dp" "$(col 1)" "$(col 2)" "$(col 3)" "$(col 4)" "$(col 5)" "$(col 6)"
    if [ "$(col 7)" != - ]; then
      steps_line+="$n CIDRs, nftables, one CIDR added, the agent's own figures (median of $RUNS): round $(col 7) ms wall, $(col 8) ms CPU, $(col 9) ms waiting for a CPU; element batch $(col 10) ms CPU"$'\n'
    fi
  done
  if [ -n "${IP_MASQ_AGENT_GO:-}" ] && [ "$n" -le 64 ]; then
    for backend in legacy nft; do
      : >"$work/runs"
      for ((r = 0; r < RUNS; r++)); do ref_run "$(shims "$backend")" "$work/c$n.yaml" >>"$work/runs"; done
      col() { awk -v c="$1" '{printf "%.1f\n", $c}' "$work/runs" | median; }
      printf '| %s | reference (Go), iptables-%s | %s | %s | | | %s | |\n' "$n" "$backend" "$(col 1)" "$(col 2)" "$(col 2)"
    done
  fi
done
echo
echo "median of $RUNS runs, each in a new network namespace; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "$steps_line" ]; then printf '\n%s' "$steps_line"; fi
