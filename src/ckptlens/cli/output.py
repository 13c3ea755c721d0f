"""The one output switch of the commands: ``--format table|json|csv`` on stdout, and ``--out FILE``.

Every command that prints rows calls ``emit``; ``records`` streams into ``output_stream``. A ``--out``
that names a folder is refused before any work is done, and a file is written whole or not at all.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from rich.console import RenderableType

from ckptlens.cli.console import stdout
from ckptlens.cli.options import TableFormat
from ckptlens.errors import CkptlensError


def emit(fmt: TableFormat, rows: list[dict] | dict, tables: Callable[[], Iterable[RenderableType]]) -> None:
    """``rows`` as JSON or CSV on stdout, or the rich ``tables`` (built only when asked for)."""
    from ckptlens.report.tables import write_csv

    if fmt is TableFormat.json:
        print(json.dumps(rows, indent=2))
    elif fmt is TableFormat.csv:
        write_csv(rows if isinstance(rows, list) else [rows], sys.stdout)
    else:
        for table in tables():
            stdout().print(table, highlight=False)


@contextmanager
def output_stream(out: Path | None) -> Iterator[TextIO]:
    """stdout, or a temporary file beside ``out`` renamed onto it once the block succeeds."""
    from ckptlens.files import atomic_path

    if out is None:
        yield sys.stdout
        return
    if out.is_dir():
        raise CkptlensError(f"--out {out} is a folder; name a file to write, e.g. {out / 'records.jsonl'}")
    with atomic_path(out) as partial, partial.open("w", newline="") as handle:
        yield handle
