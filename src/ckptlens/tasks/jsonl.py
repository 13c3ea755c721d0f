"""Reading JSON-lines files with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from ckptlens.errors import CkptlensError


def json_objects(path: Path) -> Iterator[tuple[str, dict]]:
    """``(where, object)`` for each non-blank line of a JSON-lines file; ``where`` is ``path:line`` for errors."""
    with Path(path).open(encoding="utf-8") as f:
        for n, line in _numbered_lines(path, f):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                message = f"{path}:{n}: not valid JSON ({err.msg}); each line must be one JSON object"
                raise CkptlensError(message) from None
            if not isinstance(obj, dict):
                raise CkptlensError(f"{path}:{n}: each line must be a JSON object, got {type(obj).__name__}")
            yield f"{path}:{n}", obj


def _numbered_lines(path: Path, handle: TextIO) -> Iterator[tuple[int, str]]:
    """``(number, line)``, read lazily (samples files run to gigabytes); bytes that are not UTF-8 name the line."""
    n = 0
    try:
        for n, line in enumerate(handle, start=1):  # noqa: B007 (n names the line after the last good one)
            yield n, line
    except UnicodeDecodeError:
        raise CkptlensError(f"{path}:{n + 1}: not UTF-8 text; save the file as UTF-8") from None
