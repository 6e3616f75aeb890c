"""bench/ uses only fileio's public API, so that it can measure older commits; the API is what it says."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import fileio

BENCH = Path(__file__).resolve().parents[1] / "bench"


def fileio_imports(source: str) -> list[tuple[str, str]]:
    """(module, name) for every name a module imports from fileio or its submodules."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "fileio":
            found += [(node.module or "", alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names if alias.name.split(".")[0] == "fileio"]
    return found


@pytest.mark.parametrize("path", sorted(BENCH.glob("*.py")), ids=lambda path: path.name)
def test_bench_imports_only_public_names(path: Path) -> None:
    """Every name bench/ takes from fileio is in fileio.__all__, imported from the package itself."""
    for module, name in fileio_imports(path.read_text()):
        assert module == "fileio", f"{path.name} imports {module}: only the package `fileio` is public"
        assert not name or name in fileio.__all__, f"{path.name} imports {name}, not in fileio.__all__"


def test_the_checker_sees_private_imports() -> None:
    assert fileio_imports("from fileio.tasks import run_tasks\nimport fileio.job\nfrom fileio import x") == [
        ("fileio.tasks", "run_tasks"),
        ("fileio.job", ""),
        ("fileio", "x"),
    ]


def test_every_public_name_exists() -> None:
    for name in fileio.__all__:
        assert hasattr(fileio, name), name


def test_strategies_show_their_real_signature() -> None:
    """inspect and help() show the shared signature, skip_existing included, and its documentation."""
    for strategy in fileio.STRATEGIES.values():
        parameters = inspect.signature(strategy).parameters
        assert list(parameters) == [
            "directory", "ids", "workers", "workload", "durability", "progress", "skip_existing", "pool"
        ]  # fmt: skip
        assert parameters["workers"].kind is inspect.Parameter.KEYWORD_ONLY
        assert strategy.description and ":param pool:" in (type(strategy).__call__.__doc__ or "")


def test_missing_optional_dependency_is_named() -> None:
    """A strategy whose optional module is missing says which and how to install it."""
    strategy = fileio.STRATEGIES["asyncio"].replace(requires="no_such_module_for_fileio")
    assert strategy.unavailable_reason == (
        "strategy 'asyncio' needs no_such_module_for_fileio: pip install no_such_module_for_fileio"
    )
    assert fileio.STRATEGIES["sequential"].unavailable_reason is None


def test_import_fileio_leaves_the_extras_unloaded(run_python) -> None:
    """``import fileio`` loads neither typing (the Workload protocol) nor what measuring, plotting,
    verifying or worker processes need; ``fileio.Workload`` loads when first used, and checks a workload
    structurally."""
    done = run_python(
        """
        import sys
        import fileio
        extras = ("typing", "multiprocessing", "fileio.probe", "fileio.plot", "fileio.verify", "fileio.pools",
                  "concurrent.futures", "asyncio", "numpy")
        print(sorted(m for m in extras if m in sys.modules))
        print(isinstance(fileio.CsvWorkload(), fileio.Workload), isinstance(object(), fileio.Workload))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "True False"]
