"""Whether worker processes can start safely: a main program they would re-import, and so re-run."""

from __future__ import annotations

import functools
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType


@functools.lru_cache(maxsize=4)
def _main_guard_blocks(path: str) -> tuple[tuple[int, int], ...]:
    """The lines of the ``if __name__ == "__main__":`` blocks in a program's source, read once per process:
    auto asks before each save that may start processes, and parsing even a short program takes ~1 ms."""
    import ast

    with open(path) as source:
        tree = ast.parse(source.read())
    blocks = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            names = {ast.unparse(part) for part in (node.test.left, *node.test.comparators)}
            if names == {"__name__", "'__main__'"}:
                blocks.append((node.body[0].lineno, node.end_lineno or 0))
    return tuple(blocks)


def main_module_problem(strategy: str) -> str | None:
    """Why worker processes that re-import the main program would re-run it, in one sentence naming the
    cause and the fix, or None: a script that calls the strategy at its top level without the ``__main__``
    guard, or a program read on standard input (workers re-import the main program from its file)."""
    main = sys.modules["__main__"]
    path = getattr(main, "__file__", None)
    if path is None:  # python -c, an interactive session, a notebook: nothing to re-import
        return None
    if not os.path.isfile(path):
        return (
            f"strategy {strategy!r} starts worker processes, which re-import the main program from its file, "
            f"and this program was read from {path}: save it as a script whose save call sits under "
            '`if __name__ == "__main__":`, or use a strategy without processes'
        )
    import inspect  # here: only where workers would re-import the main program (~5 ms)

    top_level = None  # the main program's own frame, running its top-level code, if it is on this stack
    frame: FrameType | None = inspect.currentframe()
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals is vars(main):
            top_level = frame
        frame = frame.f_back
    if top_level is None:
        return None
    if any(first <= top_level.f_lineno <= last for first, last in _main_guard_blocks(path)):
        return None
    return (
        f"strategy {strategy!r} was called at the top level of {path} (line {top_level.f_lineno}) without "
        '`if __name__ == "__main__":`: its worker processes re-import that script and would run the save '
        "again; put the call under that guard"
    )


def check_main_module(strategy: str) -> None:
    """Refuse, with :func:`main_module_problem`'s sentence, to start worker processes that would re-run the
    main program."""
    problem = main_module_problem(strategy)
    if problem is not None:
        raise RuntimeError(problem)
