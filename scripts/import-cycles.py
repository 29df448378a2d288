#!/usr/bin/env python3
"""Find files of a crate that import each other in a circle.

    scripts/import-cycles.py [CRATE_DIR ...]     (default: every workspace member)

For each crate's `src/`, every file is a module (`src/a.rs` and `src/a/mod.rs` are `a`,
`src/a/b.rs` is `a::b`, `src/lib.rs` and `src/main.rs` are the root). A file depends on
another when it names an item of that module by path: `crate::a::…`, `super::…`,
`self::…`, or a top-level `use a::…` where `a` is a child module. Test modules written
inline (`#[cfg(test)] mod tests { … }`) are left out, and so are files under `tests/`,
`benches/` and `examples/`. A parent declaring its children (`mod a;`) is not a
dependency. Prints each circle (a strongly connected set of files) and exits 1 if there
is any, 0 otherwise.
"""

import re
import sys
from pathlib import Path

PATH_RE = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_RE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+([A-Za-z_][A-Za-z0-9_]*)::", re.M)


def modules(src: Path):
    """Module path (tuple) -> file, for every .rs file under src."""
    out = {}
    for f in sorted(src.rglob("*.rs")):
        rel = f.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "mod":
            parts.pop()
        if parts in (["lib"], ["main"]):
            parts = []
        if parts and parts[0] == "bin":
            continue
        out[tuple(parts)] = f
    return out


def strip_tests(text: str) -> str:
    """Drop inline `#[cfg(test)] mod … { … }` blocks and comments."""
    text = re.sub(r"//[^\n]*", "", text)
    out, i = [], 0
    pat = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{")
    while True:
        m = pat.search(text, i)
        if not m:
            out.append(text[i:])
            break
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    return "".join(out)


def resolve(mods, start, segs):
    """The deepest known module along `start + segs`."""
    best = None
    path = list(start)
    if tuple(path) in mods:
        best = tuple(path)
    for s in segs:
        path.append(s)
        if tuple(path) in mods:
            best = tuple(path)
        else:
            break
    return best


def deps(mods, me, text):
    found = set()
    for m in PATH_RE.finditer(text):
        kind, rest = m.group(1), m.group(2).split("::")[1:]
        if kind == "crate":
            base = ()
        elif kind == "self":
            base = me
        else:
            base = me[:-1]
            while rest and rest[0] == "super":
                rest = rest[1:]
                base = base[:-1]
        target = resolve(mods, base, rest)
        if target is not None:
            found.add(target)
    for m in USE_RE.finditer(text):
        child = me + (m.group(1),)
        if child in mods:
            found.add(child)
    found.discard(me)
    # A module naming its own ancestors only through `super::` paths to items defined
    # there is still a dependency; a reference to the crate root alone is not (it is
    # every module's parent, and lib.rs re-exports).
    found.discard(())
    return found


def cycles(graph):
    """Tarjan's strongly connected components with more than one node."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def members(root: Path):
    text = (root / "Cargo.toml").read_text()
    m = re.search(r"members\s*=\s*\[([^\]]*)\]", text)
    return [root / s for s in re.findall(r'"([^"]+)"', m.group(1))] if m else []


def main(argv):
    root = Path(__file__).resolve().parent.parent
    crates = [Path(a) for a in argv] or members(root)
    bad = 0
    for crate in crates:
        src = crate / "src"
        if not src.is_dir():
            continue
        mods = modules(src)
        graph = {
            me: deps(mods, me, strip_tests(f.read_text(encoding="utf-8")))
            for me, f in mods.items()
        }
        for comp in cycles(graph):
            bad += 1
            names = [str(mods[c].relative_to(crate.parent)) for c in comp]
            print(f"{crate.name}: files that import each other: {' <-> '.join(names)}")
            for c in comp:
                uses = sorted(str(mods[d].name) for d in graph[c] if d in comp)
                print(f"    {mods[c].relative_to(crate.parent)} uses {', '.join(uses)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
