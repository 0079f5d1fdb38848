#!/usr/bin/env bash
# Standalone reproduction of the nftables datapath's transient mis-NAT
# (docs/performance.md, "nftables transactions and new flows").
#
# Two namespaces joined by a veth, created here and removed on exit (trap):
#   src: 10.200.0.1/24 on the veth, 10.200.0.5/32 on lo; a nat postrouting chain whose
#        interval set holds 10.200.0.0/24 (so nothing sent to 10.200.0.2 may be NATed);
#   dst: 10.200.0.2/24, a UDP receiver that counts datagrams by source address.
# In src, a sender opens a fresh UDP socket per datagram (a new conntrack entry, so a new
# NAT decision each time) bound to 10.200.0.5 and sends to 10.200.0.2; meanwhile a loop
# applies a transaction (`nft -f`) again and again. A datagram that arrives from
# 10.200.0.1 was masqueraded: a wrong decision.
#
# Usage: scripts/nft-race-repro.sh [VARIANT] [SECONDS]
# VARIANT picks the transaction (all keep the same verdicts):
#   replace   - add table; delete table; table {set; chain} (the agent before the fix)
#   literal   - the same, the set replaced by literal `ip daddr 10.200.0.0/24 return`
#   anon      - the same, with an anonymous set `ip daddr { 10.200.0.0/24 } return`
#   keepset   - the table, set and chain stay untouched; only a second, unrelated chain
#               of the same table is flushed and refilled
#   flushchain- flush chain + re-add the rules; the set untouched
#   flushset  - flush set + re-add its elements, flush chain + re-add the rules (one
#               transaction, no delete: the agent's in-place update after the fix)
#   swapset   - one transaction: add set B (filled), flush chain, rules on @B, delete
#               set A; next time the other way round
#   swapset2  - the same in two transactions: add set B (filled); then flush chain,
#               rules on @B, delete set A
#   agent     - the agent's own transactions: `ip-masq-agent --datapath nftables
#               --dry-run` output (needs AGENT=path/to/ip-masq-agent), applied as the
#               agent does: one transaction, or two when it prints two
#   none      - no transaction at all (the baseline)
# Prints: VARIANT transactions=K flows=M masqueraded=N.
set -euo pipefail

variant=${1:-replace}
seconds=${2:-10}
id=$$
src=nftrace-src-$id
dst=nftrace-dst-$id
tmp=$(mktemp -d)
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    ip netns del "$src" 2>/dev/null || true
    ip netns del "$dst" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

ip netns add "$src"
ip netns add "$dst"
ip -n "$src" link add veth0 type veth peer name veth1 netns "$dst"
ip -n "$src" addr add 10.200.0.1/24 dev veth0
ip -n "$src" addr add 10.200.0.5/32 dev lo
ip -n "$dst" addr add 10.200.0.2/24 dev veth1
ip -n "$src" link set lo up
ip -n "$src" link set veth0 up
ip -n "$dst" link set lo up
ip -n "$dst" link set veth1 up
# Unreplied UDP entries go after a second: the flows are many, the table stays small.
ip netns exec "$src" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=1 2>/dev/null || true

T=IP-MASQ-AGENT
rules_set="fib daddr type local return
		meta nfproto ipv6 return
		ip daddr 169.254.0.0/16 return
		ip daddr @nomasq-v4 return
		masquerade fully-random"
set_def="set nomasq-v4 {
		type ipv4_addr
		flags interval
		elements = { 10.96.0.0/12, 10.200.0.0/24, 192.168.0.0/16 }
	}"
chain_head="type nat hook postrouting priority srcnat; policy accept;"

initial="add table inet $T
delete table inet $T
table inet $T {
	$set_def
	chain $T {
		$chain_head
		$rules_set
	}
}"

case "$variant" in
replace | none | flushchain | flushset | swapset | swapset2) script=$initial ;;
literal)
    script="add table inet $T
delete table inet $T
table inet $T {
	chain $T {
		$chain_head
		fib daddr type local return
		ip daddr 10.96.0.0/12 return
		ip daddr 10.200.0.0/24 return
		ip daddr 192.168.0.0/16 return
		masquerade fully-random
	}
}"
    initial=$script
    ;;
anon)
    script="add table inet $T
delete table inet $T
table inet $T {
	chain $T {
		$chain_head
		fib daddr type local return
		ip daddr { 10.96.0.0/12, 10.200.0.0/24, 192.168.0.0/16 } return
		masquerade fully-random
	}
}"
    initial=$script
    ;;
keepset)
    initial="$initial
add chain inet $T other
"
    script="flush chain inet $T other
add rule inet $T other counter"
    ;;
agent)
    : "${AGENT:?AGENT=path to ip-masq-agent}"
    cfg=$tmp/config
    printf 'nonMasqueradeCIDRs:\n  - 10.96.0.0/12\n  - 10.200.0.0/24\n  - 192.168.0.0/16\n' >"$cfg"
    script=$(ip netns exec "$src" "$AGENT" --datapath nftables --config "$cfg" --random-fully=true --dry-run)
    initial=$script
    # An agent whose dry run shows two transactions applies them one after the other.
    if grep -q '^# transaction 2 of 2' <<<"$script"; then
        for i in 0 1; do
            sed '/^# transaction 2 of 2/,$d' <<<"$script" >"$tmp/script.$i"
            sed -n '/^# transaction 2 of 2/,$p' <<<"$script" >"$tmp/script2.$i"
        done
    fi
    ;;
*)
    echo "unknown variant $variant" >&2
    exit 2
    ;;
esac
case "$variant" in
flushchain)
    script="flush chain inet $T $T
add rule inet $T $T fib daddr type local return
add rule inet $T $T meta nfproto ipv6 return
add rule inet $T $T ip daddr 169.254.0.0/16 return
add rule inet $T $T ip daddr @nomasq-v4 return
add rule inet $T $T masquerade fully-random"
    ;;
flushset)
    script="add table inet $T
add set inet $T nomasq-v4 { type ipv4_addr; flags interval; }
flush set inet $T nomasq-v4
add chain inet $T $T { $chain_head }
flush chain inet $T $T
table inet $T {
	$set_def
	chain $T {
		$rules_set
	}
}"
    ;;
swapset | swapset2)
    # Set A is nomasq-v4 (the initial script's), B is nomasq-v4-b.
    swap() { # from to
        local add="add set inet $T $2 { type ipv4_addr; flags interval; elements = { 10.96.0.0/12, 10.200.0.0/24, 192.168.0.0/16 } }"
        local rest="flush chain inet $T $T
add rule inet $T $T fib daddr type local return
add rule inet $T $T meta nfproto ipv6 return
add rule inet $T $T ip daddr 169.254.0.0/16 return
add rule inet $T $T ip daddr @$2 return
add rule inet $T $T masquerade fully-random
delete set inet $T $1"
        if [ "$variant" = swapset ]; then
            printf '%s\n%s\n' "$add" "$rest" >"$tmp/script.$3"
            : >"$tmp/script2.$3"
        else
            printf '%s\n' "$add" >"$tmp/script.$3"
            printf '%s\n' "$rest" >"$tmp/script2.$3"
        fi
    }
    ;;
esac

printf '%s\n' "$initial" | ip netns exec "$src" nft -f -
printf '%s\n' "$script" >"$tmp/script"
if [ "$variant" = swapset ] || [ "$variant" = swapset2 ]; then
    swap nomasq-v4 nomasq-v4-b 0
    swap nomasq-v4-b nomasq-v4 1
elif [ "$variant" != none ]; then
    ip netns exec "$src" nft -c -f "$tmp/script"
fi

cat >"$tmp/recv.py" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.200.0.2", 9000))
s.settimeout(0.5)
counts = {}
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    try:
        _, (a, _) = s.recvfrom(64)
    except socket.timeout:
        continue
    counts[a] = counts.get(a, 0) + 1
print(" ".join(f"{a}={n}" for a, n in sorted(counts.items())))
EOF
cat >"$tmp/send.py" <<'EOF'
import socket, sys, time
deadline = time.monotonic() + float(sys.argv[1])
n = 0
while time.monotonic() < deadline:
    for _ in range(100):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("10.200.0.5", 0))
        s.sendto(b"x", ("10.200.0.2", 9000))
        s.close()
        n += 1
print(n)
EOF

ip netns exec "$dst" timeout $((seconds + 10)) python3 "$tmp/recv.py" $((seconds + 2)) >"$tmp/recv.out" &
pids+=($!)
sleep 0.5
ip netns exec "$src" timeout $((seconds + 10)) python3 "$tmp/send.py" "$seconds" >"$tmp/send.out" &
sender=$!
pids+=("$sender")
tx=0
if [ "$variant" != none ]; then
    end=$((SECONDS + seconds))
    while [ $SECONDS -lt $end ]; do
        if [ -e "$tmp/script.0" ]; then
            i=$((tx % 2))
            ip netns exec "$src" nft -f "$tmp/script.$i"
            if [ -s "$tmp/script2.$i" ]; then ip netns exec "$src" nft -f "$tmp/script2.$i"; fi
        else
            ip netns exec "$src" nft -f "$tmp/script"
        fi
        tx=$((tx + 1))
    done
fi
wait "$sender"
wait "${pids[0]}"
flows=$(cat "$tmp/send.out")
bad=$(tr ' ' '\n' <"$tmp/recv.out" | sed -n 's/^10\.200\.0\.1=//p')
echo "$variant transactions=$tx flows=$flows masqueraded=${bad:-0} received: $(cat "$tmp/recv.out")"
