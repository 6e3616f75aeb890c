"""Where fileio keeps what it measured on this machine between runs."""

from __future__ import annotations

import os


def cache_directory() -> str:
    """``$FILEIO_CACHE_DIR``, or ``fileio`` in ``$XDG_CACHE_HOME`` or ``~/.cache``."""
    configured = os.environ.get("FILEIO_CACHE_DIR")
    if configured:
        return configured
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fileio")
