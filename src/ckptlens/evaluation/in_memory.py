"""Evaluate trailing-window averages without writing them: a ``load`` hook for ``evaluate_series``.

``iter_window_averages`` slides a float32 window sum along the series (each
checkpoint read about twice); the hook loads the newest member's model and
tokenizer and overwrites its parameters with the average, so nothing is written
to disk. Checkpoints are asked for in step order, which is the order the
averages come in; an average the store already has is computed and passed over.
Asking for an earlier one again (a unit another writer held, looked at after the
rest) starts the slide again from the first checkpoint.

>>> from ckptlens.evaluation.runner import evaluate_series
>>> load = window_average_loader(series, 4, EvalConfig())
>>> ends = averaged_checkpoints(series, 4)
>>> [c.step for c in ends]
[40, 50, 60]
>>> evaluate_series(ends, tasks, store, "demo-mem-avg4", load=load).units_done
3
"""

from __future__ import annotations

from collections.abc import Sequence

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ckptlens.averaging import iter_window_averages
from ckptlens.checkpoints.loading import load_model
from ckptlens.checkpoints.series import Checkpoint, window_is_whole
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.runner import EvalConfig, Loader


def averaged_checkpoints(series: Sequence[Checkpoint], window: int, steps: Sequence[int] | None = None):
    """The checkpoints that end a full window (named like their newest member), optionally only at ``steps``."""
    if window < 1:
        raise CkptlensError(f"--average-window must be at least 1, got {window}")
    if len(series) < window:
        raise CkptlensError(f"a window of {window} needs at least {window} checkpoints; the series has {len(series)}")
    ends = [c for t, c in enumerate(series) if t >= window - 1 and window_is_whole(list(series), t, window)]
    return ends if steps is None else [c for c in ends if c.step in set(steps)]


def window_average_loader(
    series: Sequence[Checkpoint], window: int, config: EvalConfig, steps: Sequence[int] | None = None
) -> Loader:
    """A ``load(checkpoint)`` that returns the model averaged over the window ending at ``checkpoint``."""
    averages = [iter_window_averages(list(series), window, steps)]

    def load(checkpoint: Checkpoint) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        for _ in range(2):
            for newest, state in averages[0]:
                if newest.name == checkpoint.name:
                    return _model_with_state(newest, state, config)
            averages[0] = iter_window_averages(list(series), window, steps)
        raise CkptlensError(f"no window of {window} ends at {checkpoint.name}")

    return load


def _model_with_state(newest: Checkpoint, state: dict, config: EvalConfig):
    model, tokenizer = load_model(newest.path, config.device, config.dtype, config.allow_pickle)
    result = model.load_state_dict(state, strict=False)
    if result.unexpected_keys:
        raise CkptlensError(
            f"averaged tensor {result.unexpected_keys[0]} is not a parameter of the model in {newest.path}; "
            "its config.json does not match its weights"
        )
    return model, tokenizer
