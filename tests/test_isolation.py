"""An optional dependency that crashes the interpreter on load (a native wheel built for another CPU) cannot
take fileio down: it is loaded first in a child interpreter, its crash becomes the strategy's reason, and a
strategy that cannot run is refused before anything is touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A stand-in for liburing whose extension executes an instruction this CPU lacks: the kernel sends SIGILL.
# Each load leaves a mark, so a test can count how often it was loaded.
CRASHING = """
import os, signal, time
open(os.path.join(os.environ["MARKS"], f"{os.getpid()}-{time.monotonic_ns()}"), "w").close()
os.kill(os.getpid(), signal.SIGILL)
"""
FAILING = "raise ImportError('undefined symbol: io_uring_get_probe')"


def run_with_fake_liburing(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` in a fresh interpreter that finds a fake ``liburing`` first, whose extension module
    ``queue`` is ``source``, with a cache of its own."""
    package = tmp_path / "fake" / "liburing"
    if not package.exists():  # made once: rewriting it would be a reinstall
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "queue.py").write_text(source)
    marks = tmp_path / "marks"
    marks.mkdir(exist_ok=True)
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "fake"), str(ROOT)]),
        "FILEIO_CACHE_DIR": str(tmp_path / "cache"),
        "MARKS": str(marks),
    }
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=120
    )


REASON = "import fileio; print(fileio.STRATEGIES['io_uring'].unavailable_reason)"


def test_a_crashing_extension_becomes_the_reason(tmp_path: Path) -> None:
    """The crash happens in the child; the caller lives on and says what happened and what to install."""
    done = run_with_fake_liburing(tmp_path, CRASHING, "-c", REASON)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "strategy 'io_uring' cannot run here: liburing's extension crashed (SIGILL): this build needs CPU "
        "instructions this machine lacks; pip install 'fileio[uring]'\n"
    )


def test_the_answer_is_cached_per_install(tmp_path: Path) -> None:
    """A second interpreter asking again reads the answer instead of loading the dependency again; a reinstall
    (a changed file) asks anew."""
    for _ in range(2):
        assert "SIGILL" in run_with_fake_liburing(tmp_path, CRASHING, "-c", REASON).stdout
    assert len(list((tmp_path / "marks").iterdir())) == 1
    init = tmp_path / "fake" / "liburing" / "queue.py"
    os.utime(init, ns=(init.stat().st_atime_ns, init.stat().st_mtime_ns + 10**9))
    assert "SIGILL" in run_with_fake_liburing(tmp_path, CRASHING, "-c", REASON).stdout
    assert len(list((tmp_path / "marks").iterdir())) == 2


def test_a_failing_import_becomes_the_reason(tmp_path: Path) -> None:
    done = run_with_fake_liburing(tmp_path, FAILING, "-c", REASON)
    assert done.stdout == (
        "strategy 'io_uring' cannot run here: liburing could not be loaded (ImportError: undefined symbol: "
        "io_uring_get_probe); pip install 'fileio[uring]'\n"
    )


def test_the_command_line_lists_it_and_refuses_to_save_with_it(tmp_path: Path) -> None:
    """`fileio strategies` still lists every strategy; `fileio save` with the crashing one is one line,
    exit 2, and no directory."""
    listed = run_with_fake_liburing(tmp_path, CRASHING, "-m", "fileio", "strategies")
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert "SIGILL" in lines["io_uring"] and lines["sequential"].endswith("[available]")
    target = tmp_path / "out"
    saved = run_with_fake_liburing(
        tmp_path, CRASHING, "-m", "fileio", "save", "--strategy", "io_uring", "--size", "4KiB", str(target)
    )
    assert saved.returncode == 2
    assert saved.stderr.startswith("fileio save: error: strategy 'io_uring' cannot run here: liburing's")
    assert saved.stderr.count("\n") == 1 and not target.exists()


def test_the_library_refuses_before_touching_anything(tmp_path: Path) -> None:
    script = f"""
import fileio
try:
    fileio.STRATEGIES["io_uring"]({str(tmp_path / "out")!r}, range(3), workers=2)
except fileio.StrategyUnavailable as error:
    print("refused:", error)
"""
    done = run_with_fake_liburing(tmp_path, CRASHING, "-c", script)
    assert done.stdout.startswith(
        "refused: strategy 'io_uring' cannot run here: liburing's extension crashed"
    )
    assert not (tmp_path / "out").exists()


def test_the_benchmark_suite_skips_it_with_the_reason(tmp_path: Path) -> None:
    done = run_with_fake_liburing(
        tmp_path, CRASHING, "-m", "pytest", str(ROOT / "bench"), "-p", "no:cacheprovider", "-rs",
        "--benchmark-disable", "--fileio-strategies", "io_uring", "--fileio-workers", "2",
        "--fileio-sizes", "4KiB", "--fileio-files", "8", f"--rootdir={ROOT}",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "liburing's extension crashed (SIGILL)" in done.stdout and "1 skipped" in done.stdout.splitlines()[-1]
    )


@pytest.mark.parametrize("source", [CRASHING, FAILING], ids=["crashing", "failing"])
def test_the_ci_check_of_compiled_dependencies_fails_against_a_bad_build(tmp_path: Path, source: str) -> None:
    """`.ci/compiled_dependencies.py`, which CI runs on an emulated CPU without AVX-512, names the build."""
    done = run_with_fake_liburing(tmp_path, source, str(ROOT / ".ci" / "compiled_dependencies.py"))
    assert done.returncode == 1
    assert done.stdout.splitlines()[0].startswith("compiled dependency liburing: ")
    assert done.stdout.splitlines()[0] != "compiled dependency liburing: ok"
    assert "compiled dependency numpy: ok" in done.stdout
