"""Rich progress bars fed by the API's ``(stage, done, total)`` callbacks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

StageProgress = Callable[[str, int, int], None]


@contextlib.contextmanager
def stage_bars(console: Console) -> Iterator[StageProgress]:
    """One bar per stage name, created the first time the stage reports; cleared if the work fails.

    Clearing keeps an error message the only line a failed command leaves.
    """
    columns = (
        TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        bars: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                bars[stage] = progress.add_task(stage, total=total)
            progress.update(bars[stage], completed=done, total=total)

        try:
            yield update
        except BaseException:
            for task_id in progress.task_ids:
                progress.remove_task(task_id)
            raise
