#!/usr/bin/env bash
# Fetches one iptables version and the libraries it needs from Debian's archive, unpacks
# them under target/iptables/VERSION/ and prints that directory, for
# `masq-conformance --iptables DIR`:
#
#   scripts/iptables-version.sh 1.8.7     # bullseye's iptables (GitHub's ubuntu-22.04 ships 1.8.7 too)
#   scripts/iptables-version.sh 1.8.9     # bookworm's (Debian 12's own)
#   scripts/iptables-version.sh 1.8.11    # trixie's
#
# Uses apt's own tools with a private sources list, state and cache directory (under
# target/iptables/.apt/); the machine's apt configuration, package lists and installed
# packages are left as they are. Nothing is installed: the .debs are unpacked with
# dpkg-deb -x. When the machine's C library is older than the one the packages were built
# for (trixie's 1.8.11 needs glibc 2.38; Debian 12 has 2.36), that suite's libc6 is
# unpacked too and the binaries run through its own dynamic loader.
#
# Idempotent: a complete tree is printed without fetching anything again. After unpacking,
# the script checks that both xtables-legacy-multi and xtables-nft-multi run, inside a new
# network namespace (unshare -n), on a scratch nat table there.
#
# Environment:
#   DEBIAN_MIRROR   Debian mirror URL. Default: the first Debian mirror of the machine's
#                   own apt sources, else debootstrap's default Debian mirror, when
#                   debootstrap is installed (GitHub's Ubuntu runners: apt-get install
#                   debootstrap debian-archive-keyring).
#   DEBIAN_KEYRING  keyring that signs the suite (default: debian-archive-keyring's).
#   DEBIAN_SUITE    suite to take VERSION from, for versions not listed below.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "iptables-version.sh: error: $*" >&2; exit 1; }
note() { echo "iptables-version.sh: $*" >&2; }

[ $# -eq 1 ] || die "usage: scripts/iptables-version.sh VERSION (1.8.7, 1.8.9, 1.8.11)"
version="$1"
case "$version" in
  1.8.7) suite=bullseye ;;
  1.8.9) suite=bookworm ;;
  1.8.11) suite=trixie ;;
  *)
    suite="${DEBIAN_SUITE:-}"
    [ -n "$suite" ] || die "no Debian suite known for iptables $version: set DEBIAN_SUITE (1.8.7 bullseye, 1.8.9 bookworm, 1.8.11 trixie)"
    ;;
esac
suite="${DEBIAN_SUITE:-$suite}"

root="$PWD/target/iptables"
dest="$root/$version"
if [ -f "$dest/.complete" ]; then
  echo "$dest"
  exit 0
fi

for tool in apt-get dpkg-deb dpkg unshare; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is needed (a Debian or Ubuntu machine)"
done
keyring="${DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}"
[ -f "$keyring" ] || die "no Debian archive keyring at $keyring: install debian-archive-keyring (apt-get install debian-archive-keyring) or set DEBIAN_KEYRING"

# The mirror: DEBIAN_MIRROR, else a Debian mirror the machine's apt already uses, else
# debootstrap's default.
mirror="${DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$( (cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true) |
    sed -n -e 's/^deb \(\[[^]]*\] \)\{0,1\}\([a-z]*:\/\/[^ ]*\/debian\)\/\{0,1\} .*/\2/p' \
      -e 's/^URIs: *\([a-z]*:\/\/[^ ]*\/debian\)\/\{0,1\}\( .*\)\{0,1\}$/\1/p' | head -n 1)"
fi
# debootstrap (Debian's and Ubuntu's alike) knows Debian's mirror: its suite script's
# default_mirror, else the program's DEF_MIRROR.
if [ -z "$mirror" ] && [ -f "/usr/share/debootstrap/scripts/$suite" ]; then
  mirror="$(sed -n 's/^default_mirror *//p' "/usr/share/debootstrap/scripts/$suite" | head -n 1)"
  if [ -z "$mirror" ] && [ -f /usr/sbin/debootstrap ]; then
    mirror="$(sed -n 's/^DEF_MIRROR="\([^"]*\)"$/\1/p' /usr/sbin/debootstrap | head -n 1)"
  fi
fi
[ -n "$mirror" ] || die "no Debian mirror known: this machine's apt sources name none; set DEBIAN_MIRROR (or install debootstrap, whose default mirror is then used)"

arch="$(dpkg --print-architecture)"
apt_dir="$root/.apt/$suite-$arch"
mkdir -p "$apt_dir/state/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/etc/sources.list.d" \
  "$apt_dir/etc/preferences.d" "$apt_dir/debs"
: > "$apt_dir/state/status"
echo "deb [arch=$arch signed-by=$keyring] $mirror $suite main" > "$apt_dir/etc/sources.list"
apt_opts=(
  -o "Dir::Etc::sourcelist=$apt_dir/etc/sources.list"
  -o "Dir::Etc::sourceparts=$apt_dir/etc/sources.list.d"
  -o "Dir::Etc::preferences=$apt_dir/etc/preferences"
  -o "Dir::Etc::preferencesparts=$apt_dir/etc/preferences.d"
  -o "Dir::State=$apt_dir/state"
  -o "Dir::State::status=$apt_dir/state/status"
  -o "Dir::Cache=$apt_dir/cache"
  -o "APT::Architecture=$arch"
  -o "APT::Architectures::=$arch"
  -o "Acquire::Languages=none"
  -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::CNF::DefaultEnabled=false"
  -o "Acquire::http::Timeout=30"
  -o "Acquire::Retries=2"
  -o "APT::Sandbox::User=root"
)

note "iptables $version from Debian $suite ($mirror, $arch)"
# apt-get update exits 0 when an index cannot be fetched (it warns): look at what it says.
if ! update_log="$(timeout 300 apt-get "${apt_opts[@]}" -q update 2>&1)" ||
  printf '%s\n' "$update_log" | grep -q -e '^Err:' -e '^E: ' -e '^W: Failed to fetch'; then
  printf '%s\n' "$update_log" | tail -n 8 >&2
  die "cannot reach Debian's archive at $mirror (suite $suite): see apt's messages above; set DEBIAN_MIRROR to a reachable mirror"
fi

candidate="$(apt-cache "${apt_opts[@]}" show --no-all-versions iptables 2>/dev/null | sed -n 's/^Version: //p' | head -n 1)"
case "$candidate" in
  "$version"-*) ;;
  "") die "$suite has no iptables package" ;;
  *) die "$suite serves iptables $candidate, not $version (set DEBIAN_SUITE)" ;;
esac

# What xtables-{legacy,nft}-multi link against (ldd's list on every version so far).
packages=(iptables libxtables12 libip4tc2 libip6tc2 libnftnl11 libnetfilter-conntrack3 libnfnetlink0 libmnl0)
# A C library older than the suite's: bring the suite's own (and run through its loader).
host_glibc="$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')"
needed_glibc="$(apt-cache "${apt_opts[@]}" show --no-all-versions "${packages[@]}" 2>/dev/null |
  sed -n 's/^Depends:.*libc6 (>= \([0-9.]*\)).*/\1/p' | sort -V | tail -n 1)"
if [ -z "$host_glibc" ] || [ "$(printf '%s\n%s\n' "$needed_glibc" "$host_glibc" | sort -V | tail -n 1)" != "$host_glibc" ]; then
  note "this machine's glibc ${host_glibc:-(unknown)} is older than the $needed_glibc $suite's iptables needs: unpacking $suite's libc6 too"
  packages+=(libc6)
fi

(cd "$apt_dir/debs" && rm -f ./*.deb &&
  timeout 300 apt-get "${apt_opts[@]}" -q download "${packages[@]}" >&2) ||
  die "downloading ${packages[*]} from $mirror ($suite) failed"

staging="$root/.staging-$version-$$"
rm -rf "$staging"
mkdir -p "$staging"
trap 'rm -rf "$staging"' EXIT
for deb in "$apt_dir"/debs/*.deb; do
  dpkg-deb -x "$deb" "$staging"
  dpkg-deb -f "$deb" Package Version | paste -sd' ' >> "$staging/PACKAGES"
done

# How the tree's binaries find their libraries (masq-conformance's wrappers do the same).
libdirs="$(find "$staging" -name 'lib*.so.*' -printf '%h\n' | grep -v '/xtables$' | sort -u | paste -sd:)"
xtables_libdir="$(find "$staging" -type d -name xtables -path '*/lib*' | head -n 1)"
loader="$(find "$staging" -name 'ld-linux*.so*' | sort | head -n 1)"
[ -n "$xtables_libdir" ] || die "the unpacked tree has no xtables extension directory"

# Missing libraries, as the loader sees them.
for multi in xtables-legacy-multi xtables-nft-multi; do
  bin="$(find "$staging" -name "$multi" -type f | head -n 1)"
  [ -n "$bin" ] || die "iptables $version has no $multi"
  if [ -n "$loader" ]; then
    missing="$("$loader" --library-path "$libdirs" --list "$bin" 2>&1 | grep 'not found' || true)"
  else
    missing="$(LD_LIBRARY_PATH="$libdirs" ldd "$bin" 2>&1 | grep 'not found' || true)"
  fi
  [ -z "$missing" ] || die "$multi of iptables $version lacks libraries (add their packages to this script): $missing"
done

# Both backends run, in a network namespace of their own: version, a chain with the
# extensions the agent uses, iptables-save. As root: unshare -n; else through sudo when it
# needs no password (GitHub's runners restrict unprivileged user namespaces), else a user
# namespace (unshare -rn).
as_ns=(unshare -n)
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then as_ns=(sudo -n unshare -n); else as_ns=(unshare -rn); fi
fi
# shellcheck disable=SC2016 # expanded by the inner sh
check='
  set -e
  run() {
    if [ -n "$loader" ]; then
      XTABLES_LIBDIR="$xtables_libdir" "$loader" --library-path "$libdirs" "$bin" "$@"
    else
      XTABLES_LIBDIR="$xtables_libdir" LD_LIBRARY_PATH="$libdirs" "$bin" "$@"
    fi
  }
  run iptables --version
  run iptables -w 5 -t nat -N MASQ-CHECK
  run iptables -w 5 -t nat -A MASQ-CHECK -d 10.0.0.0/8 -m comment --comment check -j RETURN
  run iptables -w 5 -t nat -A MASQ-CHECK -m addrtype ! --dst-type LOCAL -j MASQUERADE --random-fully
  run ip6tables -w 5 -t nat -N MASQ-CHECK
  run iptables-save -t nat | grep -e "-A MASQ-CHECK" >/dev/null
'
for multi in xtables-legacy-multi xtables-nft-multi; do
  bin="$(find "$staging" -name "$multi" -type f | head -n 1)"
  if ! out="$(timeout 30 "${as_ns[@]}" env loader="$loader" libdirs="$libdirs" xtables_libdir="$xtables_libdir" \
    bin="$bin" XTABLES_LOCKFILE="$staging/xtables.lock" sh -c "$check" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "$multi of iptables $version does not run here (output above)"
  fi
  note "$multi: $(printf '%s\n' "$out" | head -n 1)"
done
rm -f "$staging/xtables.lock"

rm -rf "$dest"
touch "$staging/.complete"
mv "$staging" "$dest"
trap - EXIT
echo "$dest"
