"""Parameter drift along a checkpoint series: how far each checkpoint moved from the one before.

Checkpoint averaging rests on a first-order argument: when neighbouring
checkpoints are close in parameter space, the score of their mean is about the
mean of their scores. Drift measures "close": for each pair of neighbours, the
L2 distance and cosine similarity of the whole parameter vector and of each
module, relative to the earlier checkpoint's norm. Tensors are read one at a
time from memory-mapped safetensors (``averaging.weights``), so memory stays at
one tensor in float64 blocks, never two models. Integer buffers are skipped.

>>> rows = series_drift("runs/demo")
>>> [r.step_b for r in rows if r.module == WHOLE_MODEL]
[20, 30, 40, 50, 60]
>>> all(r.relative_l2 > 0 for r in rows if r.module == WHOLE_MODEL)
True
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ckptlens.checkpoints import Checkpoint, discover_series
from ckptlens.checkpoints.weights import Layout, missing_tensors, open_weights, read_model_layout, torch_dtype
from ckptlens.diagnostics.distance import PairSums, cosine, l2, module_of, pair_sums, relative_l2
from ckptlens.errors import CkptlensError
from ckptlens.store import WHOLE_MODEL


@dataclass(frozen=True)
class DriftRow:
    """Drift from checkpoint ``step_a`` to its next one ``step_b``, over one module or the whole model."""

    step_a: int
    step_b: int
    module: str
    l2: float
    relative_l2: float  # l2 / ‖parameters at step_a‖ (of this module)
    cosine: float

    def to_dict(self) -> dict:
        """A plain dict, NaN as None (so JSON stays valid)."""
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in asdict(self).items()}


def series_drift(series: str | Path, progress: Callable[[int, int], None] | None = None) -> list[DriftRow]:
    """Drift of every neighbouring pair of a series folder: a whole-model row, then one row per module."""
    checkpoints = discover_series(series)
    if len(checkpoints) < 2:
        raise CkptlensError(f"drift compares neighbouring checkpoints, but {series} holds only one; add another")
    layouts = [read_model_layout(c.path) for c in checkpoints]
    for i in range(len(checkpoints) - 1):  # every pair checked before any weight is read
        require_same_tensors(layouts[i], checkpoints[i].name, layouts[i + 1], checkpoints[i + 1].name)
    rows = []
    for i in range(len(checkpoints) - 1):
        rows += checkpoint_drift(checkpoints[i], checkpoints[i + 1], layouts[i], layouts[i + 1])
        if progress is not None:
            progress(i + 1, len(checkpoints) - 1)
    return rows


def checkpoint_drift(a: Checkpoint, b: Checkpoint, layout_a: Layout, layout_b: Layout) -> list[DriftRow]:
    """The drift rows of one pair, streamed tensor by tensor from both checkpoints' memory maps."""
    by_module: dict[str, PairSums] = defaultdict(PairSums)
    with open_weights(a.name, a.path, layout_a) as reader_a, open_weights(b.name, b.path, layout_b) as reader_b:
        for name, info in layout_a.tensors.items():
            tied_copy = reader_a.is_tied_copy(name) and reader_b.is_tied_copy(name)  # one parameter, counted once
            if torch_dtype(info.dtype).is_floating_point and not tied_copy:
                by_module[module_of(name)] += pair_sums(reader_a.get(name), reader_b.get(name))
    total = sum(by_module.values(), PairSums())
    named = [(WHOLE_MODEL, total), *sorted(by_module.items())]
    return [DriftRow(a.step, b.step, module, l2(s), relative_l2(s), cosine(s)) for module, s in named]


def require_same_tensors(layout_a: Layout, name_a: str, layout_b: Layout, name_b: str) -> None:
    """Raise a one-line error naming the first tensor missing from one checkpoint or shaped differently.

    Dtypes may differ (a bfloat16 checkpoint next to a float32 one still has a drift).
    """
    pairs = ((layout_a, name_a, layout_b, name_b), (layout_b, name_b, layout_a, name_a))
    for have, have_name, other, other_name in pairs:
        missing = missing_tensors(have, other)
        if missing:
            raise CkptlensError(
                f"tensor {missing[0]} is in {have_name} but missing from {other_name}; "
                "drift compares checkpoints of one architecture"
            )
    for name, info in layout_a.tensors.items():
        if info.shape != layout_b.info(name).shape:
            raise CkptlensError(
                f"tensor {name} has shape {list(info.shape)} in {name_a} but "
                f"{list(layout_b.info(name).shape)} in {name_b}; drift compares checkpoints of one architecture"
            )
