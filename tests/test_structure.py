"""fileio's modules import each other without a cycle, counting imports inside functions and those only for
type checking: each module can be read, tested and replaced from the ones below it."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import fileio

PACKAGE = Path(fileio.__file__).parent


def modules() -> dict[str, Path]:
    """Every module of fileio by its dotted name (a package by its own)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The fileio modules ``name`` imports anywhere in its source: ``from fileio.x import y`` counts as
    fileio.x.y where that is a module, else as fileio.x."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names)
    return {module for module in found if module in known and module != name}


def test_no_import_cycle() -> None:
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as error:
        raise AssertionError(f"fileio's modules import in a cycle: {' -> '.join(error.args[1])}") from None


def test_the_check_finds_a_cycle(tmp_path: Path) -> None:
    """The check itself: two modules that import each other, one of them inside a function, are a cycle."""
    (tmp_path / "a.py").write_text("from fileio import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from fileio.a import x\n")
    known = {"fileio.a": tmp_path / "a.py", "fileio.b": tmp_path / "b.py"}
    graph = {name: imports(name, path, known) for name, path in known.items()}
    assert graph == {"fileio.a": {"fileio.b"}, "fileio.b": {"fileio.a"}}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError:
        return
    raise AssertionError("no cycle found")
