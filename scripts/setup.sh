#!/usr/bin/env bash
# Installs what the agent's tests and the conformance suite need, when it is missing:
# iptables (both xtables-legacy-multi and xtables-nft-multi), nftables (the nft binary, for
# the agent's --datapath nftables), iproute2, conntrack, kmod;
# Go and the reference's YAML libraries for the differential oracle (tools/reference-parse,
# built in GOPATH mode from Debian's packages, nothing downloaded); then loads the
# netfilter modules the nat tables use (harmless where built in).
# Idempotent; needs root (uses sudo when not root). Debian/Ubuntu.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

missing=()
have xtables-legacy-multi || missing+=(iptables)
have xtables-nft-multi || missing+=(iptables)
have nft || missing+=(nftables)
have ip || missing+=(iproute2)
have conntrack || missing+=(conntrack)
have modprobe || missing+=(kmod)
have unshare || missing+=(util-linux)
have setpriv || missing+=(util-linux)
have go || missing+=(golang-go)
[ -d /usr/share/gocode/src/gopkg.in/yaml.v2 ] || missing+=(golang-gopkg-yaml.v2-dev)
[ -d /usr/share/gocode/src/github.com/ghodss/yaml ] || missing+=(golang-github-ghodss-yaml-dev)

if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Module loading is best effort: containers and custom kernels may have them built in.
# nf_tables, nft_chain_nat, nft_masq, nft_fib(_inet) and nft_numgen are what the agent's
# nftables datapath uses (inet nat chain, masquerade, fib daddr type local, --to-ports draws).
for m in nf_conntrack nf_nat iptable_nat ip6table_nat nf_tables nft_chain_nat nft_compat \
         nft_masq nft_fib nft_fib_inet nft_fib_ipv4 nft_fib_ipv6 nft_numgen \
         xt_MASQUERADE xt_addrtype xt_comment xt_statistic xt_conntrack nf_conntrack_netlink veth overlay; do
  as_root modprobe -q "$m" 2>/dev/null || true
done

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is not installed; install a Rust toolchain (rustup) first" >&2
  exit 1
fi
echo "setup: ok ($(/usr/sbin/xtables-legacy-multi iptables --version 2>/dev/null || iptables --version))"
