"""Where the commands print: progress and messages on stderr, tables and data on stdout."""

from __future__ import annotations

import sys

from rich.console import Console

console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)  # no truncated tables in logs


def stdout() -> Console:
    """Tables on stdout at their full width even when piped (rich would cut them to 80 columns)."""
    return Console(width=None if sys.stdout.isatty() else 120)
