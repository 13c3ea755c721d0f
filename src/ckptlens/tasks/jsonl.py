"""Reading JSON-lines files with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ckptlens.errors import CkptlensError


def json_objects(path: Path) -> Iterator[tuple[str, dict]]:
    """``(where, object)`` for each non-blank line of a JSON-lines file; ``where`` is ``path:line`` for errors."""
    with Path(path).open() as f:
        for n, line in enumerate(f, start=1):
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
