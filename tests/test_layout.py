"""The layout shows the architecture: no import cycle, no upward import, inference never imports the
training or export code -- ``training/``, ``export/`` or the export-only subpackage ``fers.export`` --
(static check of every ``import`` in ``fers/``, lazy ones included)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# a module may import its own layer or lower ones (the package __init__ and __main__ are the top)
LAYERS = [
    ("fers._version", "fers.errors", "fers.notes", "fers.settings", "fers.cache", "fers.memmap", "fers.budget", "fers.progress", "fers.threads"),
    ("fers.bands", "fers.normalize", "fers.nodata", "fers.metrics", "fers.methods", "fers.reliability", "fers.result", "fers.io",
     "fers.detectors",
     "fers.models"),
    ("fers.enhance", "fers.large"),
    ("fers.pipeline", "fers.scenes", "fers.outputs"),
    ("fers.batch",),
    ("fers.cli", "fers.ui", "fers.__main__", "fers"),
    ("fers.export",),  # export only: above everything at run time, so nothing there may import it
]
# the one door from inference into fers.export (a user's .pt on the ONNX backend, exported on first use)
EXPORT_DOOR = {("fers.enhance.first_use", "fers.export.exporter")}


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
            if (name, t) in EXPORT_DOOR:
                continue
            assert _layer(t) <= _layer(name), f"upward import: {name} (layer {_layer(name)}) -> {t} ({_layer(t)})"


def test_inference_never_imports_fers_export():
    """Only ``fers.export`` itself and the one door import it; the door's import is lazy."""
    mods = _modules()
    for name, edges in _imports(mods).items():
        if name.startswith("fers.export"):
            continue
        for t in edges:
            if t.startswith("fers.export"):
                assert (name, t) in EXPORT_DOOR, f"{name} imports the export-only {t}"
    door = ast.parse(mods["fers.enhance.first_use"].read_text())
    top = [n for n in door.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not any("fers.export" in ast.dump(n) for n in top), "the door imports fers.export at module level"


def test_only_the_settings_module_reads_the_environment():
    """``os.environ``, ``os.getenv``, ``os.putenv`` and ``from os import environ`` appear only in
    ``fers/settings.py`` (and ``app.py`` reads nothing either)."""
    found = []
    for p in [*(REPO / "fers").rglob("*.py"), REPO / "app.py"]:
        if p == REPO / "fers" / "settings.py":
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv", "unsetenv"):
                found.append(f"{p.relative_to(REPO)}:{node.lineno} {node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module == "os" and any(
                    a.name in ("environ", "getenv", "putenv") for a in node.names):
                found.append(f"{p.relative_to(REPO)}:{node.lineno} from os import")
    assert not found, "read the environment through fers.settings: " + ", ".join(found)


def test_packaging_installs_only_fers_and_knows_no_shared_folder():
    """``pip install`` ships the ``fers`` package alone (``training/`` and ``export/`` are run from a
    checkout), and no module of it builds a path into the project's ``../shared`` folder."""
    import tomllib

    find = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert find["include"] == ["fers*"]
    for p in (REPO / "fers").rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert node.value != "shared" and "../shared" not in node.value, f"{p.relative_to(REPO)}:{node.lineno}"


def test_detector_names_live_in_the_detector_modules():
    """Adding a detector is one module: outside ``fers/detectors/`` and the methods table no code names
    a detector -- no string equal to a detector's name (one that is not also a method's name), and no
    comparison with, or default of, anything called ``detector`` that is a name."""
    from fers.detectors import names
    from fers.methods import BY_NAME

    detectors = set(names())
    found = []
    for name, path in _modules().items():
        if name.startswith("fers.detectors") or name == "fers.methods":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in detectors - set(BY_NAME):
                found.append(f"{name}:{node.lineno} {node.value!r}")
            elif isinstance(node, ast.Compare):
                parts = [node.left, *node.comparators]
                if any("detector" in ast.unparse(p) for p in parts) and any(
                        isinstance(p, ast.Constant) and p.value in detectors for p in parts):
                    found.append(f"{name}:{node.lineno} {ast.unparse(node)}")
            elif isinstance(node, (ast.keyword, ast.AnnAssign, ast.arg)):
                label = getattr(node, "arg", None) or ast.unparse(getattr(node, "target", node))
                value = getattr(node, "value", None)
                if "detector" in str(label) and isinstance(value, ast.Constant) and value.value in detectors:
                    found.append(f"{name}:{node.lineno} {label}={value.value!r}")
    assert not found, found


def _functions():
    """``(lines without the docstring, parameters, "module:line name")`` of every function in ``fers/``."""
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                doc = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant)
                start = body[1].lineno if doc and len(body) > 1 else body[0].lineno
                a = node.args
                params = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + bool(a.vararg) + bool(a.kwarg)
                params -= bool(a.args and a.args[0].arg in ("self", "cls"))
                yield node.end_lineno - start + 1, params, f"{name}:{node.lineno} {node.name}"


def test_functions_stay_short_and_take_few_parameters():
    """No function over 80 lines (docstring excluded), at most 3 over 60; at most 2 with more than 10
    parameters (the public ``detect`` and the app's typed API)."""
    rows = list(_functions())
    assert not [r for r in rows if r[0] > 80], [r for r in rows if r[0] > 80]
    assert len([r for r in rows if r[0] > 60]) <= 3, [r for r in rows if r[0] > 60]
    assert len([r for r in rows if r[1] > 10]) <= 2, [r for r in rows if r[1] > 10]
