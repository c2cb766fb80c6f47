"""The project's modules import each other in one direction: no module reaches itself through its imports.

The graph is read from the source with ``ast`` and holds every import statement (top level, inside functions and
under ``TYPE_CHECKING``), so a circle cannot hide behind a lazy or type-only import. Importing a package's module
is an edge to that module only (Python runs the package's ``__init__`` first, whatever it imports).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = {
    "tenant_rag": ROOT / "include" / "tenant_rag",
    "tenant_rag_devtools": ROOT / "include" / "tenant_rag_devtools",
    "tenant_rag_airflow": ROOT / "plugins" / "tenant_rag_airflow",
}


def _module_name(package: str, root: Path, path: Path) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(package, root, path): path
        for package, root in PACKAGES.items()
        for path in sorted(root.rglob("*.py"))
    }


def _imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``module`` imports anywhere in its source."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in known else base)
    return {target for target in targets if target in known and target != module}


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    return {module: _imported(module, path, known) for module, path in known.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found, key=len, reverse=True)


def test_the_graph_finds_a_circle_when_there_is_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_graph_reads_the_imports_the_converter_makes() -> None:
    graph = import_graph()
    assert "tenant_rag.export.storage_macros" in graph["tenant_rag.export.storage_markdown"]
    assert "tenant_rag.export.markdown_text" in graph["tenant_rag.export.storage_markdown"]
    assert "tenant_rag.store.roles" in graph["tenant_rag.store.schema"]


def test_no_module_imports_itself_through_others() -> None:
    assert circles(import_graph()) == []


def test_each_library_module_imports_first_on_its_own() -> None:
    """Each module of the library (``__main__`` entry points aside: importing one runs it), imported with no other
    project module loaded yet, loads completely."""
    modules = sorted(m for m in _modules() if m.startswith("tenant_rag.") and not m.endswith(".__main__"))
    probe = f"""
import importlib, json, sys
failed = {{}}
for module in {modules!r}:
    for loaded in [name for name in sys.modules if name == "tenant_rag" or name.startswith("tenant_rag.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(module)
    except Exception as exc:
        failed[module] = f"{{type(exc).__name__}}: {{exc}}"
print(json.dumps(failed))
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / part) for part in ("include", "plugins", "."))}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {}
