#!/usr/bin/env python3
"""Checks that a crate's modules import one way only (run through scripts/check-layers.sh).

A crate declares its layers, bottom first, in `<crate>/layers.txt`: one line a layer, each
line the top-level modules (folders or files under `src/`) of that layer; `bin` stands
for `src/bin/*` and `main` for `src/main.rs`. A module may use modules of its own layer
and the layers below; an import of a higher layer, a module missing from the file, or a
cycle between top-level modules fails with the file, line and import.

Imports read: `use crate::...` (brace groups expanded), `crate::a::b` paths anywhere in
code, `super::` and `self::` (resolved against the file's module, inline `mod x { }` and
`#[path]` modules included), and `use <lib>::...` / `<lib>::...` in `src/bin`. Comments
and string literals are skipped.

`--count` prints, per crate, the cycles between top-level modules (strongly connected
components of more than one module) and between file modules (the same over files, where
a submodule's use of a module that encloses it is not an edge; the enclosing one's use of
its submodules is).
"""

import os
import re
import sys
from collections import defaultdict

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip_comments_and_strings(text):
    """Blanks comments, string and char literals, keeping newlines (line numbers hold)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
            continue
        if text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        m = re.match(r'b?r(#*)"', text[i:i + 80])
        if m and (i == 0 or not re.match(r"[A-Za-z0-9_]", text[i - 1])):
            close = '"' + m.group(1)
            j = text.find(close, i + m.end())
            j = n if j < 0 else j + len(close)
            out.append('""' + re.sub(r"[^\n]", " ", text[i:j])[2:])
            i = j
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append('""' + re.sub(r"[^\n]", " ", text[i:j])[2:])
            i = j
            continue
        if c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:i + 12])
            if m:
                out.append(" " * m.end())
                i += m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


def expand_use_tree(tree):
    """`a::{b, c::{d, e}}` -> [[a, b], [a, c, d], [a, c, e]]; `as` renames and `*` dropped."""
    tree = re.sub(r"\s+", " ", tree).strip()

    def parse(s):
        s = s.strip()
        brace = s.find("{")
        if brace < 0:
            s = re.sub(r"\s+as\s+\w+$", "", s).strip()
            parts = [p for p in s.split("::") if p and p != "*"]
            return [parts] if parts else [[]]
        prefix = [p for p in s[:brace].split("::") if p.strip()]
        prefix = [p.strip() for p in prefix]
        inner = s[brace + 1:s.rfind("}")]
        items, depth, cur = [], 0, ""
        for ch in inner:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                items.append(cur)
                cur = ""
            else:
                cur += ch
        items.append(cur)
        result = []
        for item in items:
            if item.strip():
                for sub in parse(item):
                    result.append(prefix + [p for p in sub if p != "self"])
        return result or [prefix]

    return parse(tree)


class Crate:
    """The file modules of one crate and the imports between them."""

    def __init__(self, root, lib_name):
        self.root = root
        self.src = os.path.join(root, "src")
        self.lib_name = lib_name
        self.files = {}  # relative file -> module path (tuple); bins: ("bin", name)
        self.modules = set()
        self._collect()

    def _module_of(self, rel):
        parts = rel[:-3].split(os.sep)
        if parts[0] == "bin":
            return ("bin",) if len(parts) == 2 else ("bin",) + tuple(parts[1:])
        if parts == ["lib"]:
            return ()
        if parts == ["main"]:
            return ("main",)
        if parts[-1] == "mod":
            parts = parts[:-1]
        return tuple(parts)

    def _collect(self):
        for dirpath, _, names in os.walk(self.src):
            for name in sorted(names):
                if name.endswith(".rs"):
                    rel = os.path.relpath(os.path.join(dirpath, name), self.src)
                    self.files[rel] = self._module_of(rel)
        # `#[path = "x_tests.rs"] mod tests;` makes x_tests.rs the module x::tests.
        for rel, module in list(self.files.items()):
            text = strip_comments_and_strings(self.read(rel, raw=True))
            raw = self.read(rel, raw=True)
            for m in re.finditer(r'#\[path\s*=\s*"([^"]+)"\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(' + IDENT + r")\s*;", raw):
                target = os.path.normpath(os.path.join(os.path.dirname(rel), m.group(1)))
                if target in self.files:
                    self.files[target] = module + (m.group(2),)
            del text
        self.modules = set(self.files.values())
        # `pub use child::Item;`: an import of module::Item reaches the defining module.
        self.reexports = {}
        for rel, module in self.files.items():
            text = strip_comments_and_strings(self.read(rel))
            for m in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", text):
                for path in expand_use_tree(m.group(1)):
                    if len(path) >= 2:
                        self.reexports[(module, path[-1])] = (module, path)

    def read(self, rel, raw=False):
        with open(os.path.join(self.src, rel), encoding="utf-8") as f:
            return f.read()

    def resolve(self, file_module, path, is_bin, depth=0):
        """The module path (tuple) a `a::b::c` path names, or None when it is not ours."""
        head = path[0]
        if head == "crate":
            base, rest = (("bin",) if is_bin else ()), path[1:]
            if is_bin:
                return None  # a bin's own items
        elif head == self.lib_name and self.lib_name:
            base, rest = (), path[1:]
        elif head == "self":
            base, rest = file_module, path[1:]
        elif head == "super":
            base, rest = file_module, path
            while rest and rest[0] == "super":
                base, rest = base[:-1], rest[1:]
        elif not is_bin and file_module + (head,) in self.modules:
            base, rest = file_module, path  # `use child::Item` in the parent
        else:
            return None
        if is_bin and base == () and head != self.lib_name:
            return None
        target = base
        for seg in rest:
            if target + (seg,) in self.modules:
                target = target + (seg,)
            else:
                if (target, seg) in self.reexports and depth < 8:
                    where, path = self.reexports[(target, seg)]
                    return self.resolve(where, path, False, depth + 1) or target
                break
        return target

    def imports(self):
        """Yields (file, line, file_module, target_module, text) for every import."""
        for rel in sorted(self.files):
            module = self.files[rel]
            is_bin = module[:1] == ("bin",)
            text = strip_comments_and_strings(self.read(rel))
            line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

            def line_of(pos):
                lo, hi = 0, len(line_starts) - 1
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    if line_starts[mid] <= pos:
                        lo = mid
                    else:
                        hi = mid - 1
                return lo + 1

            # Inline `mod x { ... }`: the module path at each offset.
            spans = []  # (start, end, name)
            for m in re.finditer(r"\bmod\s+(" + IDENT + r")\s*\{", text):
                depth, j = 1, m.end()
                while j < len(text) and depth:
                    depth += {"{": 1, "}": -1}.get(text[j], 0)
                    j += 1
                spans.append((m.end(), j, m.group(1)))

            def module_at(pos):
                inner = module
                for start, end, name in spans:
                    if start <= pos < end:
                        inner = inner + (name,)
                return inner

            used = []
            for m in re.finditer(r"\buse\s+([^;]+);", text):
                for path in expand_use_tree(m.group(1)):
                    if path:
                        used.append((m.start(), path, "use " + "::".join(path)))
            uses_blanked = re.sub(r"\buse\s+[^;]+;", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
            heads = r"(?:crate|super|self" + (("|" + self.lib_name) if self.lib_name else "") + r")"
            for m in re.finditer(r"(?<![A-Za-z0-9_:])" + heads + r"(?:::" + IDENT + r")+", uses_blanked):
                used.append((m.start(), m.group(0).split("::"), m.group(0)))
            for pos, path, shown in used:
                here = module_at(pos)
                target = self.resolve(here, path, is_bin)
                if target is not None:
                    yield rel, line_of(pos), here, target, shown


def top(module):
    return module[0] if module else "lib"


def sccs(nodes, edges):
    """Tarjan's strongly connected components."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def graphs(crate):
    top_edges, file_edges, where = defaultdict(set), defaultdict(set), {}
    for rel, line, here, target, shown in crate.imports():
        a, b = top(here), top(target)
        if target == ():
            continue  # the crate root (re-exports, macros)
        if a != b:
            top_edges[a].add(b)
            where.setdefault((a, b), (rel, line, shown))
        src_mod = crate.files[rel]
        # A submodule's use of an enclosing module is not an edge: the module contains it.
        if src_mod[:len(target)] != target:
            file_edges[src_mod].add(target)
            where.setdefault((src_mod, target), (rel, line, shown))
    return top_edges, file_edges, where


def cycles(edges):
    nodes = set(edges) | {w for ws in edges.values() for w in ws}
    return [c for c in sccs(nodes, edges) if len(c) > 1]


def read_layers(path):
    layers = []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip()
            if line:
                layers.append(line.split())
    return layers


def lib_name_of(root):
    try:
        with open(os.path.join(root, "Cargo.toml"), encoding="utf-8") as f:
            toml = f.read()
    except OSError:
        return ""
    m = re.search(r'\[lib\][^\[]*?name\s*=\s*"([^"]+)"', toml)
    if m:
        return m.group(1)
    m = re.search(r'\[package\][^\[]*?name\s*=\s*"([^"]+)"', toml)
    return m.group(1).replace("-", "_") if m else ""


def check(root):
    """Errors (strings) of one crate against its layers.txt."""
    crate = Crate(root, lib_name_of(root))
    layers_file = os.path.join(root, "layers.txt")
    layers = read_layers(layers_file)
    rank = {m: i for i, line in enumerate(layers) for m in line}
    errors = []
    present = {top(m) for m in crate.modules if m}
    for m in sorted(present - set(rank)):
        errors.append(f"{layers_file}: module `{m}` (src/) is in no layer; add it to a line")
    top_edges, _, where = graphs(crate)
    for a in sorted(top_edges):
        for b in sorted(top_edges[a]):
            if a in rank and b in rank and rank[b] > rank[a]:
                rel, line, shown = where[(a, b)]
                errors.append(
                    f"{os.path.join(root, 'src', rel)}:{line}: `{shown}`: `{a}` (layer {rank[a] + 1}) "
                    f"imports `{b}` (layer {rank[b] + 1}), against the order in {layers_file}")
    for comp in cycles(top_edges):
        members = set(comp)
        detail = "; ".join(
            f"{os.path.join(root, 'src', where[(a, b)][0])}:{where[(a, b)][1]} `{where[(a, b)][2]}`"
            for a in comp for b in sorted(top_edges[a]) if b in members)
        errors.append(f"{root}: import cycle between modules {', '.join(comp)}: {detail}")
    return errors


def count(root):
    crate = Crate(root, lib_name_of(root))
    top_edges, file_edges, _ = graphs(crate)
    tc, fc = cycles(top_edges), cycles(file_edges)
    print(f"{root}: top-level module cycles (SCCs > 1): {len(tc)}"
          + "".join(f"\n  [{len(c)}] {' '.join(c)}" for c in tc))
    print(f"{root}: file-module cycles (SCCs > 1): {len(fc)}"
          + "".join(f"\n  [{len(c)}] {' '.join('::'.join(m) for m in c)}" for c in fc))
    return len(tc), len(fc)


def self_test():
    """A tiny crate with a back-edge and a cycle must fail; without them it must pass."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        def write(rel, text):
            path = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        write("Cargo.toml", '[package]\nname = "tiny-crate"\n')
        write("layers.txt", "# bottom first\nwords\nrunner\nbin\n")
        write("src/lib.rs", "pub mod words;\npub mod runner;\n")
        write("src/words/mod.rs", "mod inner;\n// use crate::runner::X; (a comment)\n"
                                  "pub const S: &str = \"crate::runner::Y\";\n")
        write("src/words/inner.rs", "use super::S;\n")
        write("src/runner.rs", "use crate::{words::S};\npub fn f() {}\n")
        write("src/bin/tiny.rs", "fn main() { tiny_crate::runner::f(); }\n")
        assert check(tmp) == [], check(tmp)
        write("src/words/inner.rs", "use super::S;\nfn g() { crate::runner::f() }\n")
        errors = check(tmp)
        assert any("words/inner.rs:2" in e and "`words` (layer 1) imports `runner` (layer 2)" in e
                   for e in errors), errors
        assert any("import cycle between modules runner, words" in e for e in errors), errors
        write("src/words/inner.rs", "use super::S;\nmod tests {\n use super::super::super::runner;\n}\n")
        assert any("words/inner.rs:3" in e for e in check(tmp)), check(tmp)
        write("src/words/inner.rs", "use super::S;\n")
        write("src/bin/tiny.rs", "use tiny_crate::{runner, words};\nfn main() {}\n")
        assert check(tmp) == [], check(tmp)
        write("layers.txt", "runner\nwords\nbin\n")
        assert any("`runner` (layer 1) imports `words` (layer 2)" in e for e in check(tmp)), check(tmp)
        write("layers.txt", "words\nbin\n")
        assert any("module `runner` (src/) is in no layer" in e for e in check(tmp)), check(tmp)
    print("check-layers: self-test passed")


def main(argv):
    if "--self-test" in argv:
        self_test()
        return 0
    roots = [a for a in argv if not a.startswith("--")]
    if "--count" in argv:
        for root in roots or ["conformance", "agent"]:
            count(root)
        return 0
    if not roots:
        roots = [r for r in ("conformance", "agent") if os.path.exists(os.path.join(r, "layers.txt"))]
    failed = False
    for root in roots:
        errors = check(root)
        for e in errors:
            print(f"check-layers: {e}", file=sys.stderr)
        failed |= bool(errors)
        if not errors:
            print(f"check-layers: {root}: imports follow {os.path.join(root, 'layers.txt')}, no cycles")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
