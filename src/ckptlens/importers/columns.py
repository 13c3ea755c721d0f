"""What a samples file becomes: typed per-example columns of one filter, both read paths agree on them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ckptlens.errors import CkptlensError

FIELD_TYPES = {
    "example_id": pa.string(),
    "prompt_hash": pa.string(),
    "logliks": pa.list_(pa.float64()),
    "pred": pa.int64(),
    "gold": pa.int64(),
    "output": pa.string(),
    "target": pa.string(),
    "correct": pa.bool_(),
    "score": pa.float64(),
    "lm_eval_acc": pa.float64(),  # lm-eval's own per-sample acc, to cross-check correctness
    "metrics": pa.map_(pa.string(), pa.float64()),  # every numeric per-sample metric lm-eval wrote, in its order
}


@dataclass
class SampleColumns:
    """The per-example columns of one samples file (one filter), ready for the store's records."""

    kind: str  # "multiple_choice" | "generation"
    filter: str | None
    columns: dict[str, pa.Array] = field(default_factory=dict, repr=False)  # FIELD_TYPES' names
    task_hash: str = ""  # lm-eval's task hash recomputed from the file (results' ``task_hashes``)

    def __len__(self) -> int:
        return len(self.columns["example_id"])

    @property
    def disagreements(self) -> int:
        """Examples whose correctness differs from lm-eval's own per-sample ``acc``."""
        lm_eval_correct = pc.not_equal(self.columns["lm_eval_acc"], 0.0)
        return int(pc.sum(pc.cast(pc.not_equal(self.columns["correct"], lm_eval_correct), pa.int64())).as_py() or 0)

    def prompts(self) -> dict[str, str | None]:
        """example_id -> prompt hash."""
        return dict(zip(self.columns["example_id"].to_pylist(), self.columns["prompt_hash"].to_pylist(), strict=True))


def metric_pairs(sample: dict) -> list[tuple[str, float]]:
    """The sample's per-example metrics (the names lm-eval lists in ``metrics``) that are numbers.

    >>> metric_pairs({"metrics": ["acc", "acc_norm", "f1"], "acc": 1.0, "acc_norm": 0, "f1": [1, 0]})
    [('acc', 1.0), ('acc_norm', 0.0)]
    """
    names = sample.get("metrics") or []
    return [(n, float(sample[n])) for n in names if isinstance(sample.get(n), int | float)]


def task_hash(pieces: list[str]) -> str:
    """lm-eval's task hash: SHA-256 of every sample's doc_hash + prompt_hash + target_hash, in file order."""
    return hashlib.sha256("".join(pieces).encode("utf-8")).hexdigest()


def check_new(doc_id, seen: set, path: Path, filter_name: str | None) -> None:
    """Record ``doc_id`` as seen; a second time is a one-line error."""
    if doc_id in seen:
        raise CkptlensError(f"{path}: doc_id {doc_id} appears twice for filter {filter_name!r}; "
                            "the file was appended to by two runs: keep one run's samples")
    seen.add(doc_id)
