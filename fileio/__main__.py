"""The command line.

- ``python -m fileio save --strategy NAME --files N --workers W DIR``: save files, print the throughput.
"""

from __future__ import annotations

import argparse
import os
import sys

from fileio.guards import interrupt_once
from fileio.job import SaveError
from fileio.strategies import STRATEGIES
from fileio.workloads import CsvWorkload, PayloadWorkload, parse_size
from fileio.writer import DURABILITIES

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fileio", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    save = commands.add_parser("save", help="save files with one strategy and print the throughput")
    save.add_argument("directory", help="where to save (created if missing)")
    save.add_argument("--strategy", choices=STRATEGIES, default="sequential")
    save.add_argument("--files", type=int, default=1000, help="how many files (ids 0..N-1); default 1000")
    save.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="pool size; default CPUs")
    save.add_argument("--durability", choices=DURABILITIES, default="none")
    save.add_argument(
        "--size", type=_size, help="save payloads of this size (e.g. 256KiB) instead of the classic CSV"
    )
    save.add_argument("--resume", action="store_true", help="skip files that are already complete")
    return parser


def save_command(args: argparse.Namespace) -> None:
    workload = CsvWorkload() if args.size is None else PayloadWorkload(args.size)
    if args.files < 0:
        raise ValueError(f"--files must be >= 0, got {args.files}")
    report = STRATEGIES[args.strategy](
        args.directory,
        range(args.files),
        workers=args.workers,
        workload=workload,
        durability=args.durability,
        skip_existing=args.resume,
    )
    skipped = f" ({report.skipped} already complete, skipped)" if report.skipped else ""
    print(
        f"{args.strategy}: {report.files} files, {report.bytes} bytes, {report.seconds:.3f} s, "
        f"{report.mb_per_s:.1f} MB/s, {report.files_per_s:.1f} files/s{skipped}"
    )


def main(argv: list[str] | None = None) -> int:
    interrupt_once()  # a second Ctrl-C must not cut short the clean-up the first one started
    args = build_parser().parse_args(argv)
    try:
        save_command(args)
    except (ValueError, TypeError) as error:
        print(f"fileio: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (SaveError, OSError) as error:
        print(f"fileio: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("fileio: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
