"""fileio's public API is what users call (at most 16 names); bench/ uses it and what API_VERSION covers of
fileio's measuring modules, so that it can measure older commits; the API is what it says."""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fileio

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


def fileio_imports(source: str) -> list[tuple[str, str]]:
    """(module, name) for every name a module imports from fileio or its submodules."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "fileio":
            found += [(node.module or "", alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names if alias.name.split(".")[0] == "fileio"]
    return found


# What bench/ may take beyond fileio.__all__, which fileio.API_VERSION covers: measuring, plotting, verifying
# by digest, sizes, and forgetting what auto learned.
VERSIONED = {
    "fileio.ceiling": {"measure_ceiling"},
    "fileio.plot": {"plot_run"},
    "fileio.verification": {"expected_digests"},
    "fileio.workloads": {"format_size", "parse_size"},
    "fileio.auto.figures": {"forget_measurements", "path"},
}


def test_the_public_api_is_what_users_call() -> None:
    assert len(fileio.__all__) <= 16 and not {"API_VERSION", "measure_ceiling"} & set(fileio.__all__)


@pytest.mark.parametrize("path", sorted(BENCH.glob("*.py")), ids=lambda path: path.name)
def test_bench_imports_only_public_or_versioned_names(path: Path) -> None:
    """Every name bench/ takes from fileio is in fileio.__all__, imported from the package itself, or one of
    the versioned names of a measuring module."""
    for module, name in fileio_imports(path.read_text()):
        if module in VERSIONED:
            assert name in VERSIONED[module], f"{path.name} imports {name} from {module}: not versioned"
            continue
        assert module == "fileio", f"{path.name} imports {module}: not public, nor versioned"
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


def test_no_submodule_hides_a_public_name() -> None:
    """Importing a submodule sets the package's attribute of its name: none may share a public name (as
    ``fileio.verify``, the module, once hid ``fileio.verify``, the function, once imported)."""
    submodules = {path.stem for path in (ROOT / "fileio").iterdir() if path.suffix == ".py" or path.is_dir()}
    assert "verification" in submodules and not submodules & set(fileio.__all__)


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


LEAN = """
import os, sys
before = set(sys.modules)
import fileio
imported = sorted(set(sys.modules) - before)
report = fileio.STRATEGIES["sequential"](sys.argv[1], range(3), workers=1)
saved = sorted(set(sys.modules) - before)
print(imported, saved, sep="\\n")
print(isinstance(fileio.CsvWorkload(), fileio.Workload), isinstance(object(), fileio.Workload))
print(report.directory == __import__("pathlib").Path(sys.argv[1]))
"""
# What a script need not pay for (``-X importtime``, Python 3.11, a regular install: typing ~13 ms with re,
# dataclasses ~13 ms with inspect, pathlib ~5-10 ms), and what measuring, plotting, verifying or worker
# processes load.
EXTRAS = {
    "typing",
    "dataclasses",
    "inspect",
    "pathlib",
    "re",
    "multiprocessing",
    "concurrent.futures",
    "asyncio",
}
EXTRAS |= {
    "numpy",
    "fileio.probe",
    "fileio.ceiling",
    "fileio.timed",
    "fileio.plot",
    "fileio.verification",
    "fileio.pools",
    "fileio.sharing",
    "fileio.workload_protocol",
}


def test_a_script_that_saves_loads_none_of_the_extras(tmp_path: Path) -> None:
    """``import fileio`` and a save load none of EXTRAS, in an interpreter without site (whose packages, an
    editable install's finder among them, load some for everyone); ``fileio.Workload`` and a report's
    directory load theirs when first used."""
    done = subprocess.run(
        [sys.executable, "-S", "-c", LEAN, str(tmp_path)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    imported, saved, workload, directory = done.stdout.splitlines()
    assert "fileio.job" in imported and "fileio.writer" in saved
    assert EXTRAS.isdisjoint(ast.literal_eval(imported)) and EXTRAS.isdisjoint(ast.literal_eval(saved))
    assert (workload, directory) == ("True False", "True")
