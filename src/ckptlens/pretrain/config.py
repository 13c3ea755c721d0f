"""Configuration of the embedded demo pretraining run.

The defaults were tuned on a 2-core CPU so that ``ckptlens demo`` pretrains in
about two minutes and still shows what ckptlens measures: dozens of
checkpoints, tasks that rise well above chance, and scores that keep
fluctuating late in training because the learning rate stays high.

>>> PretrainConfig.tiny().max_steps < PretrainConfig().max_steps
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ckptlens.errors import CkptlensError


@dataclass(frozen=True)
class PretrainConfig:
    run_name: str = "demo"  # recorded in manifest.json
    seed: int = 0  # seeds the world, the corpus, the initialisation and the batch order
    # data
    n_documents: int = 40_000  # corpus size (~1.7M tokens; training reads ~1.2M, under one epoch)
    val_fraction: float = 0.02  # tail of the token stream held out for validation loss
    # model: a tiny Llama with tied input/output embeddings
    hidden_size: int = 128
    intermediate_size: int = 384  # MLP width
    n_layers: int = 4
    n_heads: int = 4
    context_length: int = 128  # tokens per training sequence
    max_positions: int = 256  # positions the model accepts (rotary, so beyond training length); 4-shot prompts ~80
    # optimisation: AdamW, linear warmup, then a high constant learning rate (never decayed,
    # so late checkpoints keep moving: the instability ckptlens measures)
    batch_size: int = 20  # sequences per step (20 x 128 = 2,560 tokens)
    max_steps: int = 480  # ~150 s on 2 CPU cores
    learning_rate: float = 3e-3
    warmup_steps: int = 50
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0  # max global gradient norm; 0 disables clipping
    # checkpointing and evaluation
    save_every: int = 10  # steps between checkpoints
    val_batches: int = 4  # batches of held-out text averaged for val_loss at each checkpoint
    num_threads: int = 2  # torch CPU threads

    def __post_init__(self) -> None:
        problems = [
            f"{name} must be positive, got {getattr(self, name)}"
            for name in (
                "n_documents",
                "hidden_size",
                "n_layers",
                "n_heads",
                "context_length",
                "batch_size",
                "max_steps",
                "save_every",
                "val_batches",
                "num_threads",
            )
            if getattr(self, name) <= 0
        ]
        if self.hidden_size % self.n_heads:
            problems.append(f"hidden_size ({self.hidden_size}) must be divisible by n_heads ({self.n_heads})")
        if self.max_positions < self.context_length:
            problems.append(f"max_positions ({self.max_positions}) must be >= context_length ({self.context_length})")
        if not 0 < self.val_fraction < 0.5:
            problems.append(f"val_fraction must be in (0, 0.5), got {self.val_fraction}")
        if problems:
            raise CkptlensError("invalid pretraining config: " + "; ".join(problems))

    @classmethod
    def tiny(cls) -> PretrainConfig:
        """A run of a few seconds for tests: a handful of checkpoints, scores near chance."""
        return cls(
            run_name="tiny",
            n_documents=2_000,
            hidden_size=32,
            intermediate_size=64,
            n_layers=2,
            n_heads=2,
            context_length=64,
            batch_size=8,
            max_steps=40,
            warmup_steps=5,
            save_every=4,
            val_batches=1,
        )

    def to_dict(self) -> dict:
        """The resolved configuration as a plain dict, as recorded in manifest.json."""
        return asdict(self)
