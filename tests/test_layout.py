"""The house rules of the source tree: each folder one concern, imports run downward, no circles.

A newcomer should find a module where its noun says, and follow an import down, never round in a
circle: ``spiders`` → ``crawler`` → ``archive``; inside a package, a folder imports its own
modules, other folders and the few leaf utilities at the package's root, never the modules
there that assemble everything (``archive/__init__``'s façade).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("archive", "crawler", "spiders")
# Root modules that folders may import: the crawler↔archive contract and small utilities.
ROOT_UTILITIES = {
    "archive": {"capture", "chain", "digest", "exceptions", "job", "times", "version"},
    "crawler": {"browser", "exceptions", "invisible", "settings", "run"},
}
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for sub in node.body for n in ast.walk(sub))
    return skip


def _imports(name: str, path: Path) -> set[str]:
    """The project modules that ``name`` imports (at any depth of its code, not for typing)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            # `from archive.catalog import custody` imports the module custody, not the package.
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in MODULES else base)
    found = set()
    for target in targets:
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _folder(module: str) -> str:
    """The folder a module lives in (``archive.catalog`` for ``archive.catalog.db``); a module at
    a package's root stands for itself, since those are the leaves everything may use."""
    path = MODULES[module]
    folder = ".".join(path.parent.relative_to(ROOT).parts)
    return module if "." not in folder and path.name != "__init__.py" else folder


def _collapsed(level: str) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, deps in GRAPH.items():
        a = module.split(".")[0] if level == "package" else _folder(module)
        for dep in deps:
            b = dep.split(".")[0] if level == "package" else _folder(dep)
            if a != b:
                graph.setdefault(a, set()).add(b)
    return graph


def test_no_module_imports_another_that_imports_it_back() -> None:
    assert _circles(GRAPH) == []


def test_no_two_folders_import_each_other() -> None:
    assert _circles(_collapsed("package")) == []
    assert _circles(_collapsed("folder")) == []


def test_folders_import_only_the_contract_and_utilities_from_their_package_root() -> None:
    upward = []
    for module, deps in GRAPH.items():
        parts = module.split(".")
        if MODULES[module].name == "__init__.py" or len(parts) < 3:
            continue  # a root module, or a folder's own __init__
        package = parts[0]
        for dep in deps:
            dep_parts = dep.split(".")
            is_root = len(dep_parts) == 1 or (
                len(dep_parts) == 2 and MODULES[dep].name != "__init__.py"
            )
            if dep_parts[0] == package and is_root:
                if dep_parts[-1] not in ROOT_UTILITIES.get(package, set()):
                    upward.append(f"{module} imports {dep}")
    assert upward == []


def _definitions() -> Iterator[tuple[str, int]]:
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                yield f"{name}.{node.name}", node.end_lineno - node.lineno + 1


# Parsed when the tests are collected, like GRAPH: Python 3.11.7's ast.parse can fail with
# "AST constructor recursion depth mismatch" once another test in the process hit deep recursion.
DEFINITIONS = list(_definitions())


def test_no_class_or_function_is_longer_than_400_lines() -> None:
    assert [(name, n) for name, n in DEFINITIONS if n > MAX_LINES] == []
