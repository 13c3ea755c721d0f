"""How an evaluation runs (``EvalConfig``) and what it did (``EvalSummary``): shared by every executor."""

from __future__ import annotations

from dataclasses import dataclass

from ckptlens.errors import CkptlensError
from ckptlens.store.representations import StateSettings


@dataclass(frozen=True)
class EvalConfig:
    batch_size: int = 32  # example rows (multiple choice) or generation rows per forward pass, at most
    device: str | None = None  # None: CUDA when available, else CPU
    dtype: str = "float32"  # float32 | float16 | bfloat16
    allow_pickle: bool = False  # load pytorch_model.bin weights (only for trusted folders)
    shard_size: int | None = None  # evaluate and store tasks with more examples in shards of this many
    reevaluate: bool = False  # replace stored units whose task prompts changed (else a changed task is an error)
    batch_tokens: int | None = None  # multiple choice: rows x padded length per pass, at most (None: by device)
    prefetch: bool = True  # load checkpoint t+1 while t is scored (two models in memory at once)
    representations: StateSettings | None = None  # keep the prompts' hidden states from the scoring passes

    def __post_init__(self) -> None:
        from ckptlens.checkpoints.loading import resolve_dtype  # torch: imported once a config is made
        from ckptlens.evaluation.scoring import Batching

        if self.shard_size is not None and self.shard_size < 1:
            raise CkptlensError(f"--shard-size must be at least 1 example, got {self.shard_size}")
        Batching(self.batch_size, self.batch_tokens)  # checks both
        resolve_dtype(self.dtype)


@dataclass(frozen=True)
class EvalSummary:
    units_done: int  # (checkpoint, task) units evaluated and written now
    units_skipped: int  # units already in the store, or stored meanwhile by another writer
    models_loaded: int
