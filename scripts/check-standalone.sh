#!/usr/bin/env bash
# The repository stands alone: nothing in it refers to the design notes it grew from
# (SPEC.md, DESIGN.md, a shared/ folder beside the checkout). The behaviour contract is
# docs/spec.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if hits="$(git grep -nIE '\bSPEC\.md|\bDESIGN\.md|\.\./shared|SPEC "|\(SPEC[:,)]' -- . ':!scripts/check-standalone.sh')"; then
  echo "check-standalone: references to files outside the repository (cite docs/spec.md instead):" >&2
  echo "$hits" >&2
  exit 1
fi
echo "check-standalone: no references outside the repository"
