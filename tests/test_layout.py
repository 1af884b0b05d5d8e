"""The layout shows the architecture: no import cycle, no upward import, inference never imports the
training or export code (static check of every ``import`` in ``fers/``, lazy ones included)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# a module may import its own layer or lower ones (the package __init__ and __main__ are the top)
LAYERS = [
    ("fers._version", "fers.errors", "fers.cache", "fers.memmap", "fers.budget", "fers.progress", "fers.threads"),
    ("fers.bands", "fers.band_select", "fers.normalize", "fers.nodata", "fers.metrics", "fers.methods", "fers.reliability", "fers.result", "fers.io",
     "fers.detectors",
     "fers.models"),
    ("fers.enhance", "fers.large"),
    ("fers.pipeline", "fers.scenes", "fers.outputs"),
    ("fers.batch",),
    ("fers.cli", "fers.ui", "fers.__main__", "fers"),
]


def _modules() -> dict:
    out = {}
    for p in (REPO / "fers").rglob("*.py"):
        name = ".".join(p.relative_to(REPO).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = p
    return out


def _imports(mods: dict) -> dict:
    """``{module: {imported module or foreign top-level package}}``; a parent package imported only
    because Python loads it first is not an edge."""
    graph = {}
    for name, path in mods.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in mods]
                targets = subs + ([node.module] if len(subs) < len(node.names) else [])
            else:
                continue
            for t in targets:
                if t in mods:
                    if t != name and not name.startswith(t + "."):
                        edges.add(t)
                else:
                    edges.add(t.split(".")[0])
        graph[name] = edges
    return graph


def _layer(name: str) -> int:
    best = None
    for i, group in enumerate(LAYERS):
        for prefix in group:
            if name == prefix or (prefix != "fers" and name.startswith(prefix + ".")):
                best = i if best is None else max(best, i)
    assert best is not None, f"{name} is in no layer of tests/test_layout.py"
    return best


def test_no_import_cycle():
    mods = _modules()
    graph = {m: {t for t in e if t in mods} for m, e in _imports(mods).items()}
    seen, stack = {}, []

    def visit(n):
        seen[n] = 1
        stack.append(n)
        for m in graph[n]:
            assert seen.get(m) != 1, f"import cycle: {' -> '.join(stack[stack.index(m):] + [m])}"
            if m not in seen:
                visit(m)
        stack.pop()
        seen[n] = 2

    for n in graph:
        if n not in seen:
            visit(n)


def test_no_upward_import_and_no_training_or_export_code():
    mods = _modules()
    for name, edges in _imports(mods).items():
        assert not edges & {"training", "export"}, f"{name} imports training/ or export/ code"
        for t in edges & set(mods):
            assert _layer(t) <= _layer(name), f"upward import: {name} (layer {_layer(name)}) -> {t} ({_layer(t)})"
