"""Which checkpoints stability is measured on.

The paper's convention is the final 20% of training by step, not by count, so
log-spaced early checkpoints do not shift the window.

>>> last_fraction([0, 1, 2, 4, 8, 1000, 2000, 3000, 4000, 5000], 0.2)
[4000, 5000]
"""

from __future__ import annotations

from collections.abc import Sequence

from ckptlens.checkpoints.series import Checkpoint
from ckptlens.errors import CkptlensError


def last_fraction(steps: Sequence[int], fraction: float) -> list[int]:
    """Steps at least ``(1 - fraction) * last_step``; an error when fewer than 2 remain."""
    if not 0 < fraction <= 1:
        raise CkptlensError(f"--last must be a fraction in (0, 1], got {fraction}")
    steps = sorted(int(s) for s in steps)
    if not steps:
        raise CkptlensError("no checkpoints to measure stability on")
    threshold = (1 - fraction) * steps[-1]
    kept = [s for s in steps if s >= threshold]
    if len(kept) < 2:
        raise CkptlensError(
            f"only {len(kept)} checkpoint(s) in the final {fraction:.0%} of training (steps >= {threshold:g}); "
            "stability needs at least 2: widen --last or evaluate more checkpoints"
        )
    return kept


def window_ends_in_last(checkpoints: Sequence[Checkpoint], window: int, fraction: float, stride: int = 1) -> list[int]:
    """Steps in the final ``fraction`` of training that end a full trailing window of ``window`` checkpoints.

    What to average when only the stability window will be analysed.
    """
    in_window = set(last_fraction([c.step for c in checkpoints], fraction))
    return [c.step for c in list(checkpoints)[window - 1 :: stride] if c.step in in_window]
