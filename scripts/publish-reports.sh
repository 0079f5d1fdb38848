#!/usr/bin/env bash
# Regenerates conformance/reports/: a verified report (JSON) of every implementation the
# repository publishes, the compare page built from them (index.html, and comparison.md
# with the same tables in Markdown) and the README saying what each file is.
#
#   scripts/publish-reports.sh [--all] [--test-threads N]
#
# Implementations (each report is named after its profile in conformance/implementations/):
#   ip-masq-agent-rs            the in-tree agent, iptables datapath (target/release)
#   ip-masq-agent-rs-nftables   the in-tree agent, nftables datapath
#   reference-go                kubernetes-sigs/ip-masq-agent, binary from ${IP_MASQ_AGENT_GO}
#   azure-ip-masq-agent-v2      Azure/ip-masq-agent-v2, binary from ${AZURE_IP_MASQ_AGENT_V2}
# An outside implementation whose variable is unset is skipped with a message naming the
# variable, and its committed report is kept (it must still verify); --all refuses to skip.
# Build each binary at its profile's `version:` (a commit of its `url:`); when Go is
# installed the script reads the commit a Go binary records and refuses a mismatch.
#
# Needs root for the runs (sudo otherwise); every run happens in namespaces the runner
# creates. A run whose cases fail is still published (its verdict says so); a run that
# cannot complete (exit 2, or no report) leaves the committed report in place and fails.
# Runner logs: target/publish-reports/<name>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

all=false threads=()
while [ $# -gt 0 ]; do
  case "$1" in
    --all) all=true ;;
    --test-threads) threads=(--test-threads "${2:?--test-threads needs a number}"); shift ;;
    *) echo "usage: scripts/publish-reports.sh [--all] [--test-threads N]" >&2; exit 2 ;;
  esac
  shift
done

out=conformance/reports
logs=target/publish-reports
# profile basename:variable naming the binary (empty: the in-tree agent, built here)
implementations=(
  ip-masq-agent-rs:
  ip-masq-agent-rs-nftables:
  reference-go:IP_MASQ_AGENT_GO
  azure-ip-masq-agent-v2:AZURE_IP_MASQ_AGENT_V2
)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
die() { echo "publish-reports: error: $*" >&2; exit 2; }

# The value of a top-level key of a profile (`version: abc`), quotes and comments dropped.
profile_key() {
  sed -n "s/^$1:[[:space:]]*[\"']\{0,1\}\([^\"'#[:space:]]*\).*/\1/p" "$2" | head -n 1
}

# What a Go binary says it was built from: its VCS revision, else its main module's
# version (a pseudo-version ends in the commit's first 12 digits). Empty without Go.
built_from() {
  command -v go >/dev/null 2>&1 || return 0
  go version -m "$1" 2>/dev/null | awk '
    $1 == "mod" && mod == "" { mod = $3 }
    $1 == "build" && $2 ~ /^vcs.revision=/ { sub(/^vcs.revision=/, "", $2); rev = $2 }
    END { print (rev != "" ? rev : mod) }'
}

# Refuses a binary that records another commit than the profile's `version:`.
check_build() { # BINARY PROFILE VARIABLE
  local bin="$1" profile="$2" var="$3" version built commit
  version="$(profile_key version "$profile")"
  [ -n "$version" ] || die "$profile: no \`version:\` (the commit the report pins); add it"
  built="$(built_from "$bin")"
  case "$built" in
    "" | "(devel)")
      echo "publish-reports: note: cannot tell which commit $bin (\$$var) was built from;" \
        "the report says $version, from $profile: make sure it is"
      return 0 ;;
  esac
  commit="${built##*-}" # a pseudo-version's commit, or the revision itself
  if [ "$built" = "$version" ] || [[ "$version" == "$commit"* ]] || [[ "$commit" == "$version"* ]]; then
    echo "publish-reports: \$$var=$bin was built from $built: matches $profile's version $version"
  else
    die "\$$var=$bin was built from $built, but $profile pins version $version: build that commit (or change the profile)"
  fi
}

# Which implementations run, decided before anything runs (--all stops here).
skipped=() runs=()
for entry in "${implementations[@]}"; do
  name="${entry%%:*}" var="${entry#*:}"
  profile="conformance/implementations/$name.yaml"
  if [ ! -f "$profile" ]; then
    [ "$all" = false ] || die "$profile does not exist (--all asks for every implementation)"
    echo "publish-reports: skipped $name: no profile $profile"
    skipped+=("$name:$var")
    continue
  fi
  if [ -n "$var" ]; then
    if [ -z "${!var:-}" ]; then
      [ "$all" = false ] || die "$name: \$$var is not set (--all asks for every implementation): point it at a build of $(profile_key url "$profile") at $(profile_key version "$profile")"
      echo "publish-reports: skipped $name: \$$var is not set (point it at a build of" \
        "$(profile_key url "$profile") at $(profile_key version "$profile") to publish it)"
      skipped+=("$name:$var")
      continue
    fi
    [ -x "${!var}" ] || die "\$$var=${!var} is not an executable file"
    check_build "${!var}" "$profile" "$var"
  fi
  runs+=("$entry")
done

scripts/setup.sh >/dev/null
cargo build --release --locked -q -p ip-masq-agent -p masq-conformance
mkdir -p "$out" "$logs"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

start=$SECONDS
for entry in "${runs[@]}"; do
  name="${entry%%:*}" var="${entry#*:}"
  profile="conformance/implementations/$name.yaml"
  report="$out/$name.json"
  [ ! -f "$report" ] || cp "$report" "$scratch/$name.json"
  rm -f "$report"
  echo "publish-reports: running the suite against $name ($profile); log: $logs/$name.log"
  t0=$SECONDS
  status=0
  as_root env "PATH=$PATH" INSTA_UPDATE=no CI=true "INSTA_WORKSPACE_ROOT=$PWD" \
    ${var:+"$var=${!var}"} \
    target/release/masq-conformance run --implementation "$profile" --report "$report" \
    "${threads[@]}" >"$logs/$name.log" 2>&1 || status=$?
  if [ "$(id -u)" -ne 0 ] && [ -f "$report" ]; then sudo chown "$(id -u):$(id -g)" "$report"; fi
  # libtest: 0 when every case passed or was expected, 101 when some failed.
  if { [ "$status" -ne 0 ] && [ "$status" -ne 101 ]; } || [ ! -s "$report" ]; then
    [ ! -f "$scratch/$name.json" ] || cp "$scratch/$name.json" "$report"
    tail -n 20 "$logs/$name.log" >&2
    die "$name: the run did not complete (exit $status); the committed report is left as it was"
  fi
  echo "publish-reports: $name: $(grep -E '^test result:' "$logs/$name.log" | tail -n 1) ($((SECONDS - t0)) s)"
done

mapfile -t reports < <(find "$out" -maxdepth 1 -name '*.json' | sort)
[ "${#reports[@]}" -gt 0 ] || die "no report in $out"
for r in "${reports[@]}"; do
  if ! target/release/masq-conformance verify-report "$r"; then
    base="$(basename "$r" .json)"
    for s in "${skipped[@]}"; do
      if [ "${s%%:*}" = "$base" ]; then
        die "$r was not regenerated (skipped above) and does not verify against this tree's corpus: set \$${s#*:} and run again"
      fi
    done
    die "$r does not verify"
  fi
done
target/release/masq-conformance compare --html "$out/index.html" "${reports[@]}" >"$out/comparison.md"

# The README: what each file is, from the reports themselves.
python3 - "$out" "${reports[@]}" >"$out/README.md" <<'PY'
import json, os, sys
out, paths = sys.argv[1], sys.argv[2:]
reports = [(os.path.basename(p), json.load(open(p))) for p in paths]
print("""# Published conformance reports

Written by `scripts/publish-reports.sh`; do not edit these files by hand. Each report is a
whole run of the suite (every fixture on every backend) against one implementation,
verified with `masq-conformance verify-report` (its corpus digest recomputed from the
tree's `fixtures/`). The test `published_reports` (`cargo test -p masq-conformance --test
formats published_reports`) fails when they no longer verify against the tree's suite, or
when `index.html` and `comparison.md` are not what `compare` builds from them.

| file | implementation | version tested | verdict | suite | suite commit | profile |
| --- | --- | --- | --- | --- | --- | --- |""")
for f, r in reports:
    impl, suite, s = r["implementation"], r["suite"], r["summary"]
    version = impl.get("version") or "the suite commit (in-tree)"
    url = impl.get("url")
    who = f"[{impl['name']}]({url})" if url else impl["name"]
    counts = f"{s['passed']} passed, {s['failed']} failed, {s['known_failures']} known failures"
    print(f"| [`{f}`]({f}) | {who} | `{version}` | {r['verdict']} ({counts}) | {suite['version']} "
          f"| `{(suite.get('commit') or 'unknown')[:12]}` | `{r['profile']['path']}` |")
digests = sorted({r["suite"]["fixtures_digest"] for _, r in reports})
env = reports[0][1]["environment"]
limits = (reports[0][1]["profile"].get("limits") or {}).get("mechanism", "unknown")
print(f"""
- [`index.html`](index.html): the compare page (`masq-conformance compare --html`) of the
  reports above, in this order: features as rows, implementations as columns, then the
  cases where they disagree. One self-contained file: open it in a browser, no network.
- [`comparison.md`](comparison.md): the same comparison in Markdown (`compare`'s output).

Corpus: {", ".join(f"`{d}`" for d in digests)}. Machine: {env['distribution']}, kernel
{env['kernel']}, {env['architecture']}, limits by {limits}. The suite commit is the
commit the runs were made from (the reports are committed on top of it).

## Regenerate

As root (or with sudo), from the repository's root, with the outside implementations
built at their profiles' `version:` (a commit of their `url:`):

```sh
IP_MASQ_AGENT_GO=/path/to/ip-masq-agent AZURE_IP_MASQ_AGENT_V2=/path/to/ip-masq-agent-v2 \\
  scripts/publish-reports.sh --all
```

Without a variable, that implementation is skipped (its committed report is kept, and
must still verify); `--all` refuses to skip. Building them:

```sh
git clone https://github.com/kubernetes-sigs/ip-masq-agent && cd ip-masq-agent
git checkout "$(sed -n 's/^version: //p' ../conformance/implementations/reference-go.yaml)"
go build -o ip-masq-agent ./cmd/ip-masq-agent
```

(and alike for Azure/ip-masq-agent-v2, `./cmd/ip-masq-agent-v2`; without network, see
docs/implementations/). The `reports` workflow (`.github/workflows/reports.yml`, weekly
and on demand) does this on GitHub's runners, runs the suite against every
implementation, fails when a case that passes in a committed report no longer passes
(`compare --baseline`), and uploads the page built from its fresh reports.""")
PY
echo "publish-reports: wrote ${reports[*]}, $out/index.html, $out/comparison.md and $out/README.md ($((SECONDS - start)) s)"
