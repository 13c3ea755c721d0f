"""Helpers for the averaging tests: tiny safetensors checkpoint folders written from known tensors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ckptlens.checkpoints import Checkpoint


def write_checkpoint(folder: Path, tensors: dict[str, torch.Tensor], shards: dict[str, str] | None = None) -> Path:
    """A folder with ``config.json`` and one safetensors file, or ``shards`` (tensor -> file) + index."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "toy", "dtype": "float32"}))
    if shards is None:
        save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
        return folder
    for file in set(shards.values()):
        save_file({n: t for n, t in tensors.items() if shards[n] == file}, str(folder / file))
    index = {"metadata": {}, "weight_map": shards}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return folder


def write_toy_series(root: Path, states: list[dict[str, torch.Tensor]], shards: dict[str, str] | None = None):
    """One checkpoint per state, steps 100, 200, ...; returns the Checkpoints oldest first."""
    series = []
    for i, state in enumerate(states):
        step = 100 * (i + 1)
        folder = write_checkpoint(root / f"step{step}", state, shards)
        series.append(Checkpoint(folder.name, folder, step, tokens_seen=1000 * step))
    return series


def toy_state(seed: int) -> dict[str, torch.Tensor]:
    """A float32 matrix, a bf16 vector and an int64 buffer that differ per seed."""
    generator = torch.Generator().manual_seed(seed)
    return {
        "w": torch.randn(4, 3, generator=generator),
        "b": torch.randn(5, generator=generator).to(torch.bfloat16),
        "pos": torch.arange(6) + seed,
    }


@pytest.fixture
def toy_series(tmp_path):
    """Six toy checkpoints (steps 100..600) under ``tmp_path/series``."""
    return write_toy_series(tmp_path / "series", [toy_state(seed) for seed in range(6)])


@pytest.fixture
def read_counter(monkeypatch):
    """Counts tensor reads per (checkpoint, tensor) by wrapping ``WeightReader.get``."""
    from ckptlens.checkpoints.weights import WeightReader

    counts: dict[tuple[str, str], int] = {}
    real_get = WeightReader.get

    def counting_get(self, tensor, **options):
        counts[(self.name, tensor)] = counts.get((self.name, tensor), 0) + 1
        return real_get(self, tensor, **options)

    monkeypatch.setattr(WeightReader, "get", counting_get)
    return counts


@pytest.fixture
def make_checkpoint():
    """``write_checkpoint`` as a fixture, for tests that build their own folders."""
    return write_checkpoint


@pytest.fixture
def make_series():
    """``write_toy_series`` as a fixture."""
    return write_toy_series
