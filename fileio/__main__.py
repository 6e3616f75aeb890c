"""The command line: ``fileio`` (or ``python -m fileio``); subcommands save, strategies, probe and plot.

Every user error is one line on stderr naming the option and the value, and exit 2; a failed save exits 1;
Ctrl-C exits 130 after cleaning up.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from fileio.errors import SaveError, StrategyUnavailable
from fileio.interrupts import interrupt_once
from fileio.report import SaveReport
from fileio.strategies import STRATEGIES
from fileio.strategy import Strategy
from fileio.workloads import (
    CsvWorkload,
    PayloadWorkload,
    ShardedWorkload,
    load_workload,
    parse_size,
)
from fileio.writer import DURABILITIES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

    from fileio.workload_protocol import Workload

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Help that shows every default that is a value, and keeps the examples' line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """argparse, with every error on one line (no usage block) and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


class BadInput(ValueError):
    """A value the command line cannot use; the message names the option."""


def _size(text: str) -> int:
    try:
        size = parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if size < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size >= 1 byte")
    return size


def _positive(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return int(text)


def _workload(text: str) -> Workload:
    try:
        return load_workload(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def human_size(count: float) -> str:
    """Bytes in decimal units, as people read them: 1244988660 -> '1.24 GB'."""
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.3g} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1000
    raise AssertionError("unreachable")


def build_parser() -> Parser:
    parser = Parser(
        prog="fileio",
        description="Save thousands of files the fastest safe way on this machine, and measure it.",
        formatter_class=Formatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str, example: str | None = None) -> Parser:
        epilog = f"example:\n  {example}" if example else None
        return commands.add_parser(
            name, help=summary, description=description, epilog=epilog, formatter_class=Formatter
        )

    _save_arguments(
        command(
            "save",
            "save files with one strategy and print the throughput",
            "Save files 0..N-1 with one strategy and print what it wrote and how fast.",
            "fileio save --strategy threads --workers 4 --size 256KiB --durability atomic out",
        )
    )
    command(
        "strategies",
        "list the strategies and whether each can run here",
        "Each strategy, what it does, and whether it can run here.",
    )
    probe = command(
        "probe",
        "measure this machine's ceiling: making bytes, and writing them with plain os.write loops",
        "Measure what bounds saving files on DIR's filesystem, with no fileio strategy involved.",
        "fileio probe /mnt/data",
    )
    probe.add_argument("directory", nargs="?", default=".", help="a directory on the filesystem to measure")
    plot = command(
        "plot",
        "draw a saved benchmark run: throughput against workers, one panel per job",
        "Draw a run saved by `pytest bench/` (JSON, from .benchmarks/ or --benchmark-json).",
        "fileio plot .benchmarks/Linux-CPython-3.11-64bit/0001_run.json -o scaling.png",
    )
    plot.add_argument("results", help="the saved run (JSON)")
    plot.add_argument(
        "-o", "--output", default="scaling.png", help="the picture: PNG, or SVG for a .svg name"
    )
    return parser


def _save_arguments(save: Parser) -> None:
    """The arguments of ``fileio save``."""
    save.add_argument("directory", help="where to save (created if missing)")
    save.add_argument(
        "--strategy", choices=STRATEGIES, default="auto", help="how to save (see: fileio strategies)"
    )
    save.add_argument("--files", type=_positive, default=1000, help="how many files: ids 0..N-1")
    save.add_argument("--workers", type=_positive, default=os.cpu_count() or 1, help="threads or processes")
    save.add_argument(
        "--durability",
        choices=DURABILITIES,
        default="none",
        help="none: the page cache; fsync: each file, then the directory; atomic: temporary, fsync, rename",
    )
    what = save.add_mutually_exclusive_group()
    what.add_argument(
        "--size", type=_size, help="save payloads of this size (e.g. 256KiB) instead of the CSV"
    )
    what.add_argument("--workload", type=_workload, help="your own workload, made by module:factory()")
    save.add_argument(
        "--files-per-directory",
        type=_positive,
        help="N consecutive ids to each numbered subdirectory (00000/, 00001/, ...), not all in one",
    )
    save.add_argument("--resume", action="store_true", help="skip files that are already complete")
    save.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a live progress bar (default: on a terminal only)",
    )
    save.add_argument("--scheduler", help="with --strategy dask: the address of a running Dask scheduler")


class Progress:
    """A live progress bar (files, MB/s, ETA) on a terminal; nothing otherwise."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="file", dynamic_ncols=True, file=sys.stderr)
        self.bytes = 0

    def saved(self, path: os.PathLike[str]) -> None:
        if self.bar is not None:
            self.bytes += os.stat(path).st_size
            self.bar.update(1)
            seconds = self.bar.format_dict["elapsed"] or 1e-9
            self.bar.set_postfix_str(f"{self.bytes / 1e6 / seconds:.1f} MB/s", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _strategy(args: argparse.Namespace) -> Strategy:
    if args.scheduler is None:
        return STRATEGIES[args.strategy]
    if args.strategy != "dask":
        raise BadInput(f"--scheduler is for --strategy dask, not {args.strategy!r}")
    from fileio.strategies.dask_cluster import with_scheduler

    return with_scheduler(args.scheduler)


def save_command(args: argparse.Namespace) -> int:
    workload = args.workload or (CsvWorkload() if args.size is None else PayloadWorkload(args.size))
    if args.files_per_directory is not None:
        workload = ShardedWorkload(workload, args.files_per_directory)
    strategy = _strategy(args)
    progress = Progress(args.files, sys.stderr.isatty() if args.progress is None else args.progress)
    try:
        report = strategy(
            args.directory,
            range(args.files),
            workers=args.workers,
            workload=workload,
            durability=args.durability,
            progress=progress.saved,
            skip_existing=args.resume,
        )
    finally:
        progress.close()
    print(summary(args, report))
    return 0


def summary(args: argparse.Namespace, report: SaveReport) -> str:
    """The one line a save ends with: what was written, how fast, and how."""
    skipped = f" ({report.skipped} already complete, skipped)" if report.skipped else ""
    return (
        f"{args.strategy}: {report.files} files, {human_size(report.bytes)} in {report.seconds:.3f} s: "
        f"{human_size(report.bytes / report.seconds if report.seconds else 0)}/s, "
        f"{report.files_per_s:.0f} files/s{skipped} (workers {args.workers}, durability {args.durability})"
    )


def strategies_command(args: argparse.Namespace) -> int:
    width = max(map(len, STRATEGIES))
    for name, strategy in STRATEGIES.items():
        reason = strategy.unavailable_reason
        state = f"unavailable: {reason}" if reason else "available"
        print(f"{name:<{width}}  {strategy.description} [{state}]")
    return 0


def probe_command(args: argparse.Namespace) -> int:
    from fileio.probe import probe_report

    if not os.path.isdir(args.directory):
        raise BadInput(f"{args.directory!r} is not an existing directory")
    for line in probe_report(args.directory):
        print(line, flush=True)
    return 0


def plot_command(args: argparse.Namespace) -> int:
    from fileio.plot import plot_run

    try:
        print(plot_run(args.results, args.output))
    except ImportError as error:
        raise BadInput(f"plotting needs {error.name}: pip install 'fileio[plot]'") from None
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "save": save_command,
    "strategies": strategies_command,
    "probe": probe_command,
    "plot": plot_command,
}


def main(argv: list[str] | None = None) -> int:
    interrupt_once()  # a second Ctrl-C must not cut short the clean-up the first one started
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, TypeError, StrategyUnavailable) as error:  # input the parser could not judge
        print(f"fileio {args.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (SaveError, OSError) as error:
        print(f"fileio {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("fileio: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
