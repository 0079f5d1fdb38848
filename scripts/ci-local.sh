#!/usr/bin/env bash
# Runs on this machine what .github/workflows/ci.yml runs on GitHub, so CI can be tried
# before pushing: actionlint, fmt, clippy, unit tests (plus the runner's root-only
# self-tests), the conformance suite on each iptables backend with a JUnit report, the
# whole log and the job-summary table, as the composite action writes them, and the same
# on other iptables versions from Debian's archive (scripts/iptables-version.sh).
#
#   scripts/ci-local.sh                    # every job
#   scripts/ci-local.sh fmt clippy         # some jobs: actionlint fmt clippy unit conformance conformance-iptables
#   BACKENDS=nft TEST_THREADS=2 scripts/ci-local.sh conformance
#   IPTABLES_VERSIONS="1.8.7 1.8.9 1.8.11" scripts/ci-local.sh conformance-iptables
#
# Reports go to target/ci-local/: junit-[iptables-<version>-]<backend>.xml,
# conformance-[iptables-<version>-]<backend>.log and summary.md (the table GitHub shows on
# the run's page). A job's failure does not stop the next one; the exit status is non-zero
# when any failed. Needs root for the unit job's root-only tests and the conformance jobs
# (uses sudo otherwise). As root, `cargo test` in the unit job also runs the conformance
# suite (on GitHub that job runs unprivileged and those trials say "skipped").
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root="$PWD"
out="$root/target/ci-local"
BACKENDS="${BACKENDS:-legacy nft}"
IPTABLES_VERSIONS="${IPTABLES_VERSIONS:-1.8.7 1.8.11}"
TEST_THREADS="${TEST_THREADS:-}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
# As in CI: a changed snapshot fails, it is never accepted.
export INSTA_UPDATE=no

as_root=()
if [ "$(id -u)" -ne 0 ]; then as_root=(sudo -E env "PATH=$PATH"); fi

jobs=("$@")
[ ${#jobs[@]} -gt 0 ] || jobs=(actionlint fmt clippy unit conformance conformance-iptables)

step() { printf '\n::: %s\n' "$*"; "$@"; }

no_leftovers() {
  local left stray
  # Namespaces of runners that have exited (mcnf-<pid>-...); another run in progress on
  # this machine keeps its own until it ends.
  left="$(ip netns list 2>/dev/null | awk '{print $1}' | while read -r ns; do
    pid="${ns#mcnf-}"; pid="${pid%%-*}"
    if [ "$pid" = "$ns" ] || ! [ -d "/proc/$pid" ]; then echo "$ns"; fi
  done)"
  if [ -n "$left" ]; then echo "error: network namespaces left behind: $(echo "$left" | tr "\n" " ")" >&2; return 1; fi
  stray="$(find . -path ./target -prune -o -name '*.snap.new' -print)"
  if [ -n "$stray" ]; then echo "error: unreviewed snapshots (see docs/validating-an-implementation.md): $stray" >&2; return 1; fi
}

job_actionlint() { step scripts/actionlint.sh; }

job_fmt() { step cargo fmt --all -- --check; }

job_clippy() { step cargo clippy --workspace --all-targets --locked -- -D warnings; }

job_unit() {
  step scripts/setup.sh --for-tests &&
    step cargo build --release --locked -p ip-masq-agent &&
    step cargo build --locked --workspace --all-targets &&
    step scripts/check-rust-version.sh &&
    step env "INSTA_WORKSPACE_ROOT=$root" CI=true \
      CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="${as_root[*]:-env}" \
      cargo test --workspace --locked --lib --bins --tests &&
    no_leftovers
}

# run_suite LABEL [MASQ-CONFORMANCE ARGS...]: the suite on each of BACKENDS, as the
# composite action runs it; reports named after LABEL.
run_suite() {
  local label="$1" backend status=0 args
  shift
  for backend in $BACKENDS; do
    args=(--implementation "$root/conformance/implementations/ip-masq-agent-rs.yaml"
      --fixtures "$root/fixtures" --backend "$backend" --junit "$out/junit-$label$backend.xml" "$@")
    [ -z "$TEST_THREADS" ] || args+=(--test-threads "$TEST_THREADS")
    printf '\n::: masq-conformance %s (log: %s)\n' "${args[*]}" "$out/conformance-$label$backend.log"
    "${as_root[@]}" env "GITHUB_STEP_SUMMARY=$out/summary.md" INSTA_UPDATE=no CI=true \
      "INSTA_WORKSPACE_ROOT=$root" target/release/masq-conformance "${args[@]}" \
      2>&1 | tee "$out/conformance-$label$backend.log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  done
  return "$status"
}

job_conformance() {
  step scripts/setup.sh &&
    step cargo build --release --locked -p masq-conformance -p ip-masq-agent || return 1
  mkdir -p "$out"
  : > "$out/summary.md"
  local status=0
  run_suite "" || status=1
  no_leftovers || status=1
  echo "summary: $out/summary.md; JUnit: $out/junit-*.xml"
  return "$status"
}

# The workflow's conformance-iptables job: the suite on other iptables versions, fetched
# from Debian's archive by scripts/iptables-version.sh (IPTABLES_VERSIONS).
job_conformance-iptables() {
  step scripts/setup.sh &&
    step cargo build --release --locked -p masq-conformance -p ip-masq-agent || return 1
  mkdir -p "$out"
  [ -f "$out/summary.md" ] || : > "$out/summary.md"
  local version dir status=0
  for version in $IPTABLES_VERSIONS; do
    printf '\n::: scripts/iptables-version.sh %s\n' "$version"
    if ! dir="$(scripts/iptables-version.sh "$version")"; then status=1; continue; fi
    run_suite "iptables-$version-" --iptables "$dir" || status=1
  done
  no_leftovers || status=1
  echo "summary: $out/summary.md; JUnit: $out/junit-iptables-*.xml"
  return "$status"
}

passed=() failed=()
for job in "${jobs[@]}"; do
  if ! declare -F "job_$job" >/dev/null; then
    echo "ci-local.sh: unknown job '$job' (actionlint fmt clippy unit conformance conformance-iptables)" >&2
    exit 2
  fi
  printf '\n=== job %s\n' "$job"
  if "job_$job"; then passed+=("$job"); else failed+=("$job"); echo "=== job $job FAILED" >&2; fi
done

echo
echo "ci-local.sh: passed: ${passed[*]:-none}; failed: ${failed[*]:-none}"
echo "ci-local.sh: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
