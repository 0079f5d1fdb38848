#!/usr/bin/env bash
# Installs, when missing, what a command of this repository needs; then loads the
# netfilter modules the nat tables use (harmless where built in).
#
#   scripts/setup.sh              what running the conformance suite needs
#                                 (scripts/conformance.sh): iptables (both
#                                 xtables-legacy-multi and xtables-nft-multi), nftables (nft,
#                                 for the agent's --datapath nftables and nftables
#                                 implementations), iproute2, conntrack, kmod, util-linux
#   scripts/setup.sh --for-tests  that, and what only the project's own tests need
#                                 (scripts/test.sh): Go and the reference's YAML libraries
#                                 for the agent's differential test (tools/reference-parse,
#                                 built in GOPATH mode from Debian's packages, nothing
#                                 downloaded)
#   --dry-run                     print what would be installed and loaded; change nothing
#
# Idempotent; needs root (uses sudo when not root). Debian/Ubuntu.
set -euo pipefail

for_tests=false dry_run=false
for arg in "$@"; do
  case "$arg" in
    --for-tests) for_tests=true ;;
    --dry-run) dry_run=true ;;
    *) echo "usage: scripts/setup.sh [--for-tests] [--dry-run]" >&2; exit 2 ;;
  esac
done

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

# needs PACKAGE PRESENT: PACKAGE is needed; PRESENT (a command) says whether it is there.
needed=() missing=()
needs() {
  needed+=("$1")
  if ! "${@:2}"; then missing+=("$1"); fi
}
needs iptables have xtables-legacy-multi
needs iptables have xtables-nft-multi
needs nftables have nft
needs iproute2 have ip
needs conntrack have conntrack
needs kmod have modprobe
needs util-linux have unshare
needs util-linux have setpriv
if [ "$for_tests" = true ]; then
  needs golang-go have go
  needs golang-gopkg-yaml.v2-dev test -d /usr/share/gocode/src/gopkg.in/yaml.v2
  needs golang-github-ghodss-yaml-dev test -d /usr/share/gocode/src/github.com/ghodss/yaml
fi
mapfile -t needed < <(printf '%s\n' "${needed[@]}" | sort -u)
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
fi

# Module loading is best effort: containers and custom kernels may have them built in.
# nf_tables, nft_chain_nat, nft_masq, nft_fib(_inet) and nft_numgen are what the agent's
# nftables datapath uses (inet nat chain, masquerade, fib daddr type local, --to-ports draws).
modules=(nf_conntrack nf_nat iptable_nat ip6table_nat nf_tables nft_chain_nat nft_compat
  nft_masq nft_fib nft_fib_inet nft_fib_ipv4 nft_fib_ipv6 nft_numgen
  xt_MASQUERADE xt_addrtype xt_comment xt_statistic xt_conntrack nf_conntrack_netlink veth overlay)

if [ "$dry_run" = true ]; then
  echo "setup: needs ${needed[*]}"
  echo "setup: would install: ${missing[*]:-nothing (all present)}"
  echo "setup: would load modules: ${modules[*]}"
  exit 0
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for m in "${modules[@]}"; do
  as_root modprobe -q "$m" 2>/dev/null || true
done

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is not installed; install a Rust toolchain (rustup) first" >&2
  exit 1
fi
echo "setup: ok ($(/usr/sbin/xtables-legacy-multi iptables --version 2>/dev/null || iptables --version))"
