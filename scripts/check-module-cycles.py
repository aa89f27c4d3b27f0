#!/usr/bin/env python3
"""Reports import cycles between the modules of each crate under crates/; exits 1 when there is one.

A module depends on another when its source names it through a path: `use crate::a::b::X`,
`crate::a::f()`, `super::b::Y`, grouped uses (`use crate::{a::X, b::{Y, Z}}`) included. A path is
followed through the module it names to the module that defines the item when that module only
re-exports it (`pub use`). Comments and string literals are ignored.

Children use their parents' items and parents declare their children: that is nesting, not a
cycle, so references between a module and its ancestors are left out. A reference from a::x to
b::y is counted between the siblings a and b (the children of the modules' nearest common
ancestor), so the check sees cycles between files and between folders alike.

Usage: scripts/check-module-cycles.py [crate directory ...]   (default: every crates/*)
"""

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip_comments_and_strings(text: str) -> str:
    """Blanks out comments, string and char literals, keeping line breaks (for line numbers)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif m := re.compile(r'b?r(#*)"').match(text, i):
            if i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
                out.append(c)
                i += 1
                continue
            end = '"' + m.group(1)
            j = text.find(end, m.end())
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c == '"' or (c == "b" and text.startswith('b"', i)):
            if c == "b" and i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
                out.append(c)
                i += 1
                continue
            j = text.index('"', i) + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c == "'":
            m = re.compile(r"'(\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'\n])'").match(text, i)
            if m:
                out.append("' '")
                i = m.end()
            else:  # a lifetime
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Crate:
    def __init__(self, directory: Path, root: Path):
        self.directory = directory
        self.root = root
        self.name = directory.name if root.name == "lib.rs" else f"{directory.name} ({root.name})"
        # module path (tuple of names) -> stripped source text of the file that holds it
        self.files: dict[tuple, tuple[Path, str]] = {}
        # module path -> {exported name: full path it re-exports}
        self.reexports: dict[tuple, dict[str, tuple]] = {}
        # module path -> names of items (and inline modules) it defines
        self.modules: set[tuple] = set()
        # (from module, to module) -> first place seen
        self.references: dict[tuple, str] = {}

    def load(self) -> None:
        self.load_file(self.root, (), self.root.parent)

    def load_file(self, path: Path, module: tuple, dir_of_children: Path) -> None:
        text = strip_comments_and_strings(path.read_text())
        self.modules.add(module)
        self.files.setdefault(module, (path, text))
        for child_path, child_module, child_dir in self.child_files(text, module, dir_of_children):
            self.load_file(child_path, child_module, child_dir)

    def child_files(self, text, module, dir_of_children):
        """`mod name;` declarations (at any inline depth) and the files that hold them."""
        found = []
        stack = []  # (inline module path, brace depth at which it closes, directory)
        depth = 0
        current, current_dir = module, dir_of_children
        token = re.compile(r"\bmod\s+(" + IDENT + r")\s*([;{])|[{}]")
        for m in token.finditer(text):
            s = m.group(0)
            if s == "{":
                depth += 1
            elif s == "}":
                depth -= 1
                if stack and stack[-1][1] == depth:
                    stack.pop()
                    current, current_dir = (stack[-1][0], stack[-1][2]) if stack else (module, dir_of_children)
            elif m.group(1):
                name, kind = m.group(1), m.group(2)
                child = current + (name,)
                self.modules.add(child)
                if kind == "{":
                    depth += 1
                    stack.append((child, depth - 1, current_dir / name))
                    current, current_dir = child, current_dir / name
                else:
                    for candidate in (current_dir / f"{name}.rs", current_dir / name / "mod.rs"):
                        if candidate.exists():
                            found.append((candidate, child, current_dir / name))
                            break
        return found

    # --- references -------------------------------------------------------------------------

    def inline_module_at(self, module: tuple, text: str, offset: int) -> tuple:
        """The (possibly inline) module enclosing `offset` in the file of `module`."""
        stack, depth = [], 0
        current = module
        for m in re.finditer(r"mod\s+(" + IDENT + r")\s*\{|[{}]", text[:offset]):
            s = m.group(0)
            if s == "{":
                depth += 1
            elif s == "}":
                depth -= 1
                if stack and stack[-1][1] == depth:
                    stack.pop()
                    current = stack[-1][0] if stack else module
            else:
                depth += 1
                current = current + (m.group(1),)
                stack.append((current, depth - 1))
        return current

    def use_trees(self, text: str):
        """Yields (offset, visibility, list of (path segments, alias or None)) for each `use`."""
        for m in re.finditer(r"(?:\b(pub(?:\s*\([^)]*\))?)\s+)?\buse\s+([^;]*);", text):
            yield m.start(), m.group(1), list(expand_use(m.group(2)))

    def collect_reexports(self) -> None:
        for module, (_path, text) in self.files.items():
            for offset, vis, leaves in self.use_trees(text):
                if not vis:
                    continue
                at = self.inline_module_at(module, text, offset)
                for segments, alias in leaves:
                    full = self.absolute(at, segments)
                    if full is None or segments[-1] in ("*", "self"):
                        continue
                    self.reexports.setdefault(at, {})[alias or segments[-1]] = full

    def absolute(self, at: tuple, segments: list) -> tuple | None:
        """The crate-absolute path for a path written in module `at`, or None when external."""
        if not segments:
            return None
        head = segments[0]
        if head in ("crate", "$crate"):
            return tuple(segments[1:])
        if head == "super":
            base = list(at)
            rest = list(segments)
            while rest and rest[0] == "super":
                if not base:
                    return None
                base.pop()
                rest.pop(0)
            return tuple(base) + tuple(rest)
        if head == "self":
            return tuple(at) + tuple(segments[1:])
        if at + (head,) in self.modules:  # a child module, named relatively
            return tuple(at) + tuple(segments)
        return None

    def resolve(self, full: tuple, seen=None) -> tuple:
        """The module that defines what `full` names (following re-exports)."""
        seen = seen or set()
        module = ()
        for i, segment in enumerate(full):
            if module + (segment,) in self.modules:
                module = module + (segment,)
                continue
            target = self.reexports.get(module, {}).get(segment)
            if target and target not in seen:
                seen.add(target)
                return self.resolve(tuple(target) + tuple(full[i + 1 :]), seen)
            break
        return module

    def collect_references(self) -> None:
        path_expr = re.compile(
            r"(?<![A-Za-z0-9_:])((?:\$?crate|super|self)(?:\s*::\s*(?:" + IDENT + r"|\*))+)"
        )
        for module, (path, text) in self.files.items():
            spans = []
            for offset, _vis, leaves in self.use_trees(text):
                at = self.inline_module_at(module, text, offset)
                end = text.index(";", offset)
                spans.append((offset, end))
                for segments, _alias in leaves:
                    self.add_reference(at, segments, path, text, offset)
            for m in path_expr.finditer(text):
                if any(a <= m.start() < b for a, b in spans):
                    continue
                at = self.inline_module_at(module, text, m.start())
                segments = [s.strip() for s in m.group(1).split("::")]
                self.add_reference(at, segments, path, text, m.start())

    def add_reference(self, at, segments, path, text, offset) -> None:
        full = self.absolute(at, segments)
        if full is None:
            return
        if segments[-1] == "*":
            full = full[:-1]
        target = self.resolve(full)
        # Lift both ends to the children of their nearest common ancestor.
        common = 0
        while common < min(len(at), len(target)) and at[common] == target[common]:
            common += 1
        if common == len(at) or common == len(target):
            return  # one is an ancestor of the other (or the same module)
        a, b = at[: common + 1], target[: common + 1]
        line = text.count("\n", 0, offset) + 1
        self.references.setdefault((a, b), f"{path.relative_to(ROOT)}:{line}")

    def cycles(self):
        graph: dict[tuple, set] = {}
        for a, b in self.references:
            graph.setdefault(a, set()).add(b)
            graph.setdefault(b, set())
        return [c for c in strongly_connected(graph) if len(c) > 1]


def expand_use(tree: str):
    """Expands a use tree (`crate::{a::X, b::{Y as Z, self}}`) into (segments, alias) leaves."""
    tree = re.sub(r"\s+", " ", tree).strip()

    def parse(s: str, prefix: list):
        s = s.strip()
        if not s:
            return
        brace = s.find("{")
        if brace < 0 or "::" not in s[:brace] and not s.startswith("{"):
            if brace < 0:
                alias = None
                m = re.fullmatch(r"(.*?)\s+as\s+(" + IDENT + r")", s)
                if m:
                    s, alias = m.group(1), m.group(2)
                segments = [x.strip() for x in s.split("::") if x.strip()]
                if segments and segments[-1] == "self":
                    segments = segments[:-1]
                full = prefix + segments
                if full:
                    yield full, alias
                return
        head = s[:brace].rstrip().rstrip(":").rstrip(":").strip()
        inner = s[brace + 1 : s.rindex("}")]
        base = prefix + [x.strip() for x in head.split("::") if x.strip()]
        for part in split_top_level(inner):
            yield from parse(part, base)

    yield from parse(tree, [])


def split_top_level(s: str):
    parts, depth, start = [], 0, 0
    for i, c in enumerate(s):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return [p for p in parts if p.strip()]


def strongly_connected(graph):
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            result.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return result


def name(module: tuple) -> str:
    return "::".join(("crate",) + module)


def main(argv) -> int:
    directories = [Path(a).resolve() for a in argv[1:]] or sorted(
        p for p in (ROOT / "crates").iterdir() if (p / "Cargo.toml").exists()
    )
    roots = [
        (d, d / "src" / f) for d in directories for f in ("lib.rs", "main.rs") if (d / "src" / f).exists()
    ]
    found = False
    for directory, root in roots:
        crate = Crate(directory, root)
        crate.load()
        crate.collect_reexports()
        crate.collect_references()
        for component in crate.cycles():
            found = True
            members = set(component)
            print(f"{crate.name}: cycle between {', '.join(name(m) for m in component)}")
            for (a, b), where in sorted(crate.references.items()):
                if a in members and b in members:
                    print(f"  {name(a)} -> {name(b)}  ({where})")
    if not found:
        print(f"no module cycles in {len(roots)} crate root(s) under {len(directories)} package(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
