"""The package's layers, read from the source: who may import whom, and no circles.

core (gru_core/*.py) ← analysis/, charts/, jobs/ ← cli.py and pages/. Every import counts, a lazy one
inside a function too, so a layer cannot be crossed by hiding the import.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "gru_core"
ENTRY = {"gru_core.cli", "gru_core.__main__"}  # the command line sits on top of every layer
MAY_IMPORT = {  # layer -> the layers its modules may import
    "core": {"core"},
    "analysis": {"core", "analysis"},
    "charts": {"core", "charts"},
    "jobs": {"core", "jobs"},
    "entry": {"core", "analysis", "charts", "jobs", "entry"},
    "pages": {"core", "analysis", "charts", "jobs", "pages"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(name: str) -> str:
    if name.startswith("pages"):
        return "pages"
    if name in ENTRY:
        return "entry"
    parts = name.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ("analysis", "charts", "jobs")) else "core"


def imports(path: Path) -> set[str]:
    """Every project module ``path`` imports (absolute or relative, at the top or inside a function)."""
    return imports_of(module_name(path), path.name == "__init__.py", path.read_text(encoding="utf-8"))


def imports_of(name: str, is_package: bool, source: str) -> set[str]:
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                up = parts[: len(parts) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            targets = [(base, a.name) for a in node.names]
        else:
            continue
        for mod, attr in targets:
            if not mod.startswith(("gru_core", "pages")):
                continue
            sub = f"{mod}.{attr}" if attr else None  # "from gru_core.analysis import stats": the module stats
            if sub in MODULES:
                found.add(sub)
            else:
                found.add(mod)
                if attr and attr != "*":
                    NAMES_USED.setdefault(mod, set()).add(attr)
    return found - {name}


NAMES_USED: dict[str, set[str]] = {}  # module -> the names imported from it that are not modules
SOURCES = sorted(PKG.rglob("*.py")) + sorted((ROOT / "pages").glob("*.py"))
MODULES = {module_name(p) for p in SOURCES}
GRAPH = {module_name(p): imports(p) for p in SOURCES}


def test_the_layers_are_there():
    for folder in ("analysis", "charts", "jobs"):
        assert (PKG / folder / "__init__.py").is_file()
        assert (PKG / folder / "__init__.py").read_text().startswith('"""')  # each says what lives there
    assert {layer(m) for m in MODULES} == set(MAY_IMPORT)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_one_way(name):
    wrong = sorted(t for t in GRAPH[name] if t in MODULES and layer(t) not in MAY_IMPORT[layer(name)])
    assert not wrong, f"{name} ({layer(name)}) imports {wrong}, outside {sorted(MAY_IMPORT[layer(name)])}"


def defined_names(name: str) -> set[str]:
    """Top-level names a project module defines or imports (what ``from it import X`` can take)."""
    path = ROOT / Path(*name.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    out = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                out |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return out


def test_every_imported_module_and_name_exists():
    """A moved module is not imported under its old name anywhere (pages import lazily at run time)."""
    missing = sorted(t for deps in GRAPH.values() for t in deps if t not in MODULES)
    assert not missing, missing
    for mod, names in sorted(NAMES_USED.items()):
        absent = sorted(names - defined_names(mod))
        assert not absent, f"{absent} imported from {mod}, which does not define them"


def test_the_package_has_no_streamlit():
    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "streamlit" for n in names), path


def test_no_import_circles():
    seen, stack, cycles = set(), [], []

    def visit(node: str) -> None:
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(GRAPH.get(node, ())):
            if nxt in MODULES:
                visit(nxt)
        stack.pop()

    for m in sorted(MODULES):
        visit(m)
    # The package's __init__ is imported by every submodule's import; it only gathers the core's names.
    cycles = [c for c in cycles if "gru_core" not in c]
    assert not cycles, " ; ".join(" → ".join(c) for c in cycles)


def test_the_checker_sees_a_crossing():
    """A lazy import of a page and of an analysis, planted in a core module, is seen and refused."""
    planted = "def f():\n    from pages.common import get_model\n    from .analysis import stats\n"
    found = imports_of("gru_core.model", False, planted)
    assert found == {"pages.common", "gru_core.analysis.stats"}
    assert all(layer(t) not in MAY_IMPORT[layer("gru_core.model")] for t in found)
