#!/usr/bin/env bash
# Before tagging a suite version: scripts/check-release.sh v0.1.0
#
# Checks, changing nothing, that the tree is that version and nothing else: the suite
# crate's version and `masq-conformance --version`; CHANGELOG.md's heading `## X.Y.Z — YYYY-MM-DD`,
# nothing left under `## Unreleased` (only its headings and `None.`), the corpus digest
# and fixture count its section states; the published reports (conformance/reports/) of
# this suite, one per implementation profile that publishes one, verifying (the formats
# tests changelog_digest and published_reports); a clean tree and no such tag yet.
# Prints the tag command when everything holds; exits 1 naming each problem otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: scripts/check-release.sh vX.Y.Z" >&2; exit 2; }
version="${1#v}" tag="v${1#v}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "check-release: '$1' is not a version (v0.1.0)" >&2; exit 2; }

status=0
problem() { echo "check-release: $*" >&2; status=1; }

# The suite's version is masq-conformance's (the agent's crate is versioned on its own).
crate="$(sed -n 's/^version = "\(.*\)"$/\1/p' conformance/Cargo.toml | head -n 1)"
[ "$crate" = "$version" ] || problem "conformance/Cargo.toml says version $crate, not $version"

grep -Eq "^## $version — [0-9]{4}-[0-9]{2}-[0-9]{2}\$" CHANGELOG.md ||
  problem "CHANGELOG.md has no heading '## $version — YYYY-MM-DD' (the release date)"
left="$(awk '/^## /{ in_unreleased = ($2 == "Unreleased"); next } in_unreleased' CHANGELOG.md |
  grep -vE '^(### .*|None\.|[[:space:]]*)$' || true)"
[ -z "$left" ] || problem "CHANGELOG.md still lists under '## Unreleased' (move it under '## $version'):
$left"
section="$(awk -v v="$version" '/^## /{ in_section = ($2 == v); next } in_section' CHANGELOG.md)"

cargo build --release --locked -q -p masq-conformance
have="$(target/release/masq-conformance --version)"
[ "$have" = "masq-conformance $version" ] || problem "masq-conformance --version says '$have'"

# The published reports: every one verifies against this tree's corpus (which gives its
# digest and case count), is of this suite version, and every profile that publishes one has it.
digest="" cases=""
for name in ip-masq-agent-rs ip-masq-agent-rs-nftables reference-go azure-ip-masq-agent-v2; do
  report="conformance/reports/$name.json"
  if [ ! -f "$report" ]; then
    [ ! -f "conformance/implementations/$name.yaml" ] ||
      problem "$report is missing: scripts/publish-reports.sh --all (with the outside implementations' variables)"
    continue
  fi
  if ! line="$(target/release/masq-conformance verify-report "$report" 2>&1)"; then
    problem "$report does not verify (re-publish with scripts/publish-reports.sh --all): $line"
    continue
  fi
  case "$line" in
    *"verified against suite $version "*) ;;
    *) problem "$report is not of suite $version: $line" ;;
  esac
  digest="$(sed -n 's/.*(corpus \(sha256:[0-9a-f]*\)).*/\1/p' <<<"$line")"
  cases="$(sed -n 's/.*(\([0-9]*\) cases)$/\1/p' <<<"$line")"
done
if [ -n "$digest" ]; then
  grep -q "\`$digest\`" <<<"$section" ||
    problem "CHANGELOG.md's section $version does not state the corpus digest \`$digest\`"
  if ! grep -q "$((cases / 2)) fixtures" <<<"$section" || ! grep -qF "($cases cases)" <<<"$section"; then
    problem "CHANGELOG.md's section $version does not say '$((cases / 2)) fixtures' and '($cases cases)'"
  fi
fi

cargo test -q --locked -p masq-conformance --test formats -- changelog published_reports >/dev/null ||
  problem "cargo test -p masq-conformance --test formats -- changelog published_reports fails"

[ -z "$(git status --porcelain)" ] || problem "the tree has uncommitted changes (git status)"
if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then problem "the tag $tag exists already"; fi

if [ "$status" -eq 0 ]; then
  echo "check-release: $tag is ready (corpus $digest, $cases cases). Tag it:"
  echo "  git tag -a $tag -m 'masq-conformance $version (corpus $digest)' && git push origin $tag"
fi
exit "$status"
