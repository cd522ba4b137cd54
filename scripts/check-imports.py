#!/usr/bin/env python3
"""Fails when the modules of a crate import each other in a cycle.

Reads every `.rs` file under a crate's `src/`, turns each `crate::a::b` and
`super::x` path into the file that defines module `a::b` (names re-exported
by a `mod.rs` or `lib.rs` are followed to the file they come from), and
reports every strongly connected group of more than one file. Declaring a
child module (`mod x;`) is not an import.

    scripts/check-imports.py server client-sdk
"""
import re
import sys
from pathlib import Path

PATH = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\};", re.S)
REEXPORT = re.compile(r"\bpub(?:\([a-z]+\))?\s+use\s+(?:self::)?([A-Za-z_][A-Za-z0-9_:]*)::\{?([^;]*?)\}?;", re.S)


def module_of(path: Path, src: Path) -> tuple:
    rel = path.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("lib", "main", "mod"):
        parts = parts[:-1]
    return tuple(parts)


def strip_comments(text: str) -> str:
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def check(crate: Path) -> list:
    src = crate / "src"
    files = {module_of(p, src): p for p in src.rglob("*.rs")}
    texts = {m: strip_comments(p.read_text()) for m, p in files.items()}
    # name re-exported by module m -> the module it comes from
    reexports = {}
    for m, text in texts.items():
        for origin, names in REEXPORT.findall(text):
            base = tuple(origin.split("::"))
            if base[0] == "crate":
                base = base[1:]
            elif base[0] == "super":
                base = m[:-1] + base[1:]
            else:
                base = m + base
            for name in re.split(r"[,\s]+", names):
                name = name.split(" as ")[0].strip()
                if name and name != "self" and name != "*":
                    reexports[(m, name)] = base

    def resolve(parts: tuple) -> tuple:
        """The longest module prefix of `parts` that is a file, following re-exports."""
        for n in range(len(parts), -1, -1):
            head = parts[:n]
            if head in files:
                if n < len(parts) and (head, parts[n]) in reexports:
                    return resolve(reexports[(head, parts[n])] + parts[n + 1 :])
                return head
        return ()

    edges = {m: set() for m in files}
    for m, text in texts.items():
        refs = []
        for root, group, names in USE_GROUP.findall(text):
            for name in re.split(r"[,\s{}]+", names):
                if name and name != "self":
                    refs.append((root, group + "::" + name.split("::")[0]))
        refs += PATH.findall(text)
        for root, rest in refs:
            parts = tuple(p for p in rest.split("::") if p)
            base = () if root == "crate" else m[:-1]
            while parts and parts[0] == "super":
                base, parts = base[:-1], parts[1:]
            target = resolve(base + parts)
            if target != m and target in files:
                edges[m].add(target)

    # Tarjan's strongly connected components.
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
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
    for v in files:
        if v not in index:
            visit(v)
    # The crate root only declares modules and the state they share: every
    # module may name `crate::AppState` without that being a cycle.
    return [c for c in out if not (len(c) == 2 and () in c)]


def name(m: tuple) -> str:
    return "::".join(m) or "(crate root)"


def main() -> int:
    bad = 0
    for crate in sys.argv[1:]:
        for cycle in check(Path(crate)):
            bad += 1
            print(f"{crate}: import cycle between " + ", ".join(name(m) for m in cycle))
    if bad == 0:
        print("no import cycles in " + ", ".join(sys.argv[1:]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
