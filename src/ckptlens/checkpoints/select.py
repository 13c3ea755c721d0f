"""Which checkpoints stability is measured on.

The paper's convention is the final 20% of training by step, not by count, so
log-spaced early checkpoints do not shift the window.

>>> last_fraction([0, 1, 2, 4, 8, 1000, 2000, 3000, 4000, 5000], 0.2)
[4000, 5000]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from ckptlens.checkpoints.series import Checkpoint, window_is_whole
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
    series = list(checkpoints)
    ends = range(window - 1, len(series), stride)
    return [series[t].step for t in ends if series[t].step in in_window and window_is_whole(series, t, window)]


def parse_fraction(text: str | float) -> float:
    """A ``--last`` value: ``0.2``, ``20%`` or ``20 %``.

    >>> parse_fraction("20%"), parse_fraction("0.2"), parse_fraction(0.5)
    (0.2, 0.2, 0.5)
    """
    raw = str(text).strip()
    try:
        value = float(raw.removesuffix("%").strip()) / (100 if raw.endswith("%") else 1)
    except ValueError:
        raise CkptlensError(f"--last takes a fraction like 0.2 or a percentage like 20%, got {text!r}") from None
    if not 0 < value <= 1:
        raise CkptlensError(f"--last must be in (0, 1] or (0%, 100%], got {text!r}")
    return value


def parse_step_range(text: str) -> Callable[[int], bool]:
    """A ``--steps`` filter: ``start:stop[:every]`` (stop included, either end may be empty) or ``100,200,300``.

    >>> keep = parse_step_range("1000:5000:500")
    >>> [s for s in (0, 1000, 1200, 1500, 5000, 5500) if keep(s)]
    [1000, 1500, 5000]
    >>> [s for s in (100, 150, 200) if parse_step_range("100,200")(s)]
    [100, 200]
    """
    try:
        if ":" not in text:
            wanted = {int(part) for part in text.split(",") if part.strip()}
            return wanted.__contains__
        parts = [part.strip() for part in text.split(":")]
        if len(parts) > 3:
            raise ValueError(text)
        start = int(parts[0]) if parts[0] else 0
        stop = int(parts[1]) if parts[1] else None
        every = int(parts[2]) if len(parts) == 3 and parts[2] else 1
    except ValueError:
        raise CkptlensError(
            f"--steps takes start:stop:every (e.g. 1000:5000:500) or a list like 100,200, got {text!r}"
        ) from None
    if every < 1:
        raise CkptlensError(f"the step interval in --steps must be at least 1, got {text!r}")
    return lambda step: step >= start and (stop is None or step <= stop) and (step - start) % every == 0


def filter_series(
    checkpoints: Sequence[Checkpoint], steps: str | None = None, last: float | None = None
) -> list[Checkpoint]:
    """The checkpoints kept by a ``--steps`` filter, then by ``--last`` (the final fraction of training).

    An empty selection is an error that lists the steps there are.
    """
    kept = list(checkpoints)
    if steps is not None:
        keep = parse_step_range(steps)
        kept = [c for c in kept if keep(c.step)]
    if last is not None and kept:
        in_last = set(last_fraction([c.step for c in kept], last))
        kept = [c for c in kept if c.step in in_last]
    if not kept:
        available = [c.step for c in checkpoints]
        raise CkptlensError(f"--steps {steps} keeps no checkpoint; the series has steps {_short(available)}")
    return _gaps_kept(list(checkpoints), kept)


def _gaps_kept(series: list[Checkpoint], kept: list[Checkpoint]) -> list[Checkpoint]:
    """``kept`` with ``follows_gap`` set where a skipped checkpoint lies between it and the kept one before it."""
    marked, previous = [], None
    for ckpt in kept:
        between = [c for c in series if (previous is None or c.step > previous) and c.step <= ckpt.step]
        gap = previous is not None and any(c.follows_gap for c in between)
        marked.append(replace(ckpt, follows_gap=gap))
        previous = ckpt.step
    return marked


def _short(steps: list[int]) -> str:
    return ", ".join(map(str, steps)) if len(steps) <= 8 else f"{', '.join(map(str, steps[:8]))}, ... ({len(steps)})"
