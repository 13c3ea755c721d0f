"""A stand-in for the ``comet`` package (unbabel-comet) and its model folder: no download, no torch model.

``load_from_checkpoint`` records each load; the model's ``predict`` records each call and scores every sample
deterministically from its ``src``, ``mt`` and ``ref`` (:func:`fake_score`), so a test knows which texts COMET
received from the scores alone.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def fake_score(src: str, mt: str, ref: str) -> float:
    """Character overlap of the translation with the reference, nudged by the source's length (in [0, 1])."""
    overlap = len(set(mt) & set(ref)) / max(1, len(set(ref)))
    return round(0.9 * overlap + 0.1 * (len(src) % 10) / 10, 6)


@dataclass
class FakeComet:
    loads: list[tuple[str, dict]] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)  # each predict call: its samples and keyword arguments

    def module(self) -> types.ModuleType:
        module = types.ModuleType("comet")
        module.load_from_checkpoint = self.load_from_checkpoint
        return module

    def load_from_checkpoint(self, checkpoint_path, **kwargs):
        if not Path(checkpoint_path).is_file():
            raise Exception(f"Invalid checkpoint path: {checkpoint_path}")  # as comet's own
        self.loads.append((str(checkpoint_path), kwargs))
        return types.SimpleNamespace(predict=self.predict)

    def predict(self, samples, **kwargs):
        self.calls.append({"samples": list(samples), **kwargs})
        scores = [fake_score(s["src"], s["mt"], s["ref"]) for s in samples]
        return types.SimpleNamespace(scores=scores, system_score=sum(scores) / len(scores))


def write_model_folder(folder: Path) -> Path:
    """A folder laid out like a downloaded Unbabel/wmt22-comet-da: hparams.yaml, checkpoints/model.ckpt."""
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "model.ckpt").write_bytes(b"fake")
    (folder / "hparams.yaml").write_text("class_identifier: regression_metric\n")
    return folder


def write_hub_cache(cache: Path) -> Path:
    """A Hugging Face cache holding the model, as ``comet.download_model`` leaves it; returns the snapshot folder."""
    repo = cache / "models--Unbabel--wmt22-comet-da"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    return write_model_folder(repo / "snapshots" / COMMIT)
