"""Write files so that a run killed halfway leaves the old file or none, never half of a new one.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "table.csv"
>>> with atomic_path(target) as partial:
...     _ = partial.write_text("a,b\\n")
>>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
('a,b\\n', ['table.csv'])
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to, renamed onto ``path`` when the block ends without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it: a killed run leaves no half file."""
    with atomic_path(path) as partial:
        partial.write_text(text, newline="")
    return Path(path)
