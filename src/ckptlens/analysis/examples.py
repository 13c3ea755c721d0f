"""Example-level views: which examples keep flipping, in the spirit of dataset cartography.

Over the stability window each example is

- ``learned-and-kept``: right at every checkpoint;
- ``never-learned``: wrong at every checkpoint;
- ``unstable``: right at some and wrong at others.

>>> import numpy as np
>>> example_classes(np.array([[1, 1, 1], [0, 0, 0], [1, 0, 1]]))
['learned-and-kept', 'never-learned', 'unstable']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ckptlens.analysis.matrix import TaskMatrix
from ckptlens.checkpoints import last_fraction

CLASSES = ("learned-and-kept", "never-learned", "unstable")


@dataclass(frozen=True)
class ExampleView:
    run: str
    task: str
    steps: np.ndarray  # all checkpoints, by step
    window_start: int  # first step of the stability window
    example_ids: np.ndarray  # sorted: most flips first
    correct: np.ndarray  # (E, m) bool, rows in example_ids order
    flips: np.ndarray  # (E,) correctness changes over the whole series
    classes: list[str]  # per example, over the stability window

    def class_fractions(self) -> dict[str, float]:
        return {c: self.classes.count(c) / max(len(self.classes), 1) for c in CLASSES}


def example_classes(correct: np.ndarray) -> list[str]:
    """The cartography class of each row of an (examples, checkpoints) correctness matrix."""
    correct = np.asarray(correct) >= 0.5
    kept, never = correct.all(axis=1), ~correct.any(axis=1)
    return [CLASSES[0] if k else CLASSES[1] if n else CLASSES[2] for k, n in zip(kept, never)]


def example_view(matrix: TaskMatrix, last: float = 0.2) -> ExampleView:
    """Examples of one (run, task) sorted by how often they flip, with their classes in the final window."""
    correct = matrix.score >= 0.5
    flips = np.abs(np.diff(correct.astype(int), axis=1)).sum(axis=1)
    order = np.lexsort((-correct.mean(axis=1), -flips))
    window = last_fraction(matrix.steps, last)
    in_window = np.isin(matrix.steps, window)
    return ExampleView(
        run=matrix.run, task=matrix.task, steps=matrix.steps, window_start=int(window[0]),
        example_ids=matrix.example_ids[order], correct=correct[order], flips=flips[order],
        classes=example_classes(correct[order][:, in_window]),
    )
