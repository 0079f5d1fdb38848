#!/usr/bin/env bash
# Fails when a package in Cargo.lock needs a newer Rust than the workspace declares
# (`rust-version` in Cargo.toml), or when the declared version is older than what the
# dependencies need. Reads `cargo metadata` (offline, locked); needs python3.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --locked --offline 2>/dev/null >target/metadata.json ||
  cargo metadata --format-version 1 --locked >target/metadata.json
python3 - target/metadata.json <<'PY'
import json, sys

meta = json.load(open(sys.argv[1]))
members = set(meta["workspace_members"])

def key(v):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))

declared = {p["name"]: p.get("rust_version") for p in meta["packages"] if p["id"] in members}
if None in declared.values():
    sys.exit(f"check-rust-version: a workspace member declares no rust-version: {declared}")
ours = min(declared.values(), key=key)
resolved = {n["id"] for n in meta["resolve"]["nodes"]}
needs = sorted(
    ((p["rust_version"], p["name"], p["version"]) for p in meta["packages"]
     if p["id"] in resolved and p["id"] not in members and p.get("rust_version")),
    key=lambda t: key(t[0]), reverse=True)
top = needs[0] if needs else ("0", "-", "-")
too_new = [n for n in needs if key(n[0]) > key(ours)]
if too_new:
    lines = "\n".join(f"  {name} {version} needs Rust {rv}" for rv, name, version in too_new)
    sys.exit(f"check-rust-version: the workspace declares rust-version {ours}, but:\n{lines}\n"
             f"raise rust-version in Cargo.toml to {too_new[0][0]}")
print(f"check-rust-version: rust-version {ours} covers every locked dependency "
      f"(the most demanding: {top[1]} {top[2]}, Rust {top[0]})")
PY
