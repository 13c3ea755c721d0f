"""Checkpoints saved under other tensor names than transformers 5 gives them combine as one model.

Each architecture the engine is tested on is saved twice: by ``save_pretrained`` and under a variant naming
that transformers still loads (Pythia's ``embed_out``, no base model prefix, the tied output layer stored,
stale buffers). Averaging, interpolation and drift must treat both as the same model: the average of the two
equals the average of two standard copies, the interpolation's ends score as the endpoints do.
"""

from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

from ckptlens.averaging import average_checkpoints
from ckptlens.checkpoints.loading import load_model
from ckptlens.checkpoints.weights import read_layout, read_model_layout
from ckptlens.diagnostics.drift import series_drift
from ckptlens.diagnostics.interpolation import interpolation_path
from ckptlens.evaluation.runner import EvalConfig
from tests.conftest import build_tokenizer
from tests.diagnostics.test_interpolation import direct
from tests.evaluation.test_architectures import CONFIGS
from tests.evaluation.test_runner import CAPITALS


def pythia(names: dict) -> dict:
    """Pythia's own names (``embed_out``, as ``save_pretrained`` also writes it) and the stale buffers it stores."""
    renamed = {("embed_out.weight" if k == "lm_head.weight" else k): v for k, v in names.items()}
    renamed["gpt_neox.layers.0.attention.masked_bias"] = torch.tensor(-1e9)
    return renamed


def model_names(names: dict) -> dict:
    """GPT-NeoX under transformers 5's own parameter names (``lm_head``), as a saved ``state_dict`` has them."""
    return {("lm_head.weight" if k == "embed_out.weight" else k): v for k, v in names.items()}


def without_prefix(prefix: str):
    """Saved from the base model: no ``model.``/``transformer.`` prefix (the output layer stays as it is)."""
    return lambda names: {k.removeprefix(prefix): v for k, v in names.items()}


def tied_stored(source: str):
    """A tied output layer written out, as a plain ``torch`` state dict would hold it."""
    return lambda names: {**names, "lm_head.weight": names[source].clone()}


VARIANTS = {
    "gpt_neox": model_names,
    "gpt2": without_prefix("transformer."),
    "qwen2": without_prefix("model."),
    "opt": tied_stored("model.decoder.embed_tokens.weight"),
    "gemma": tied_stored("model.embed_tokens.weight"),
    "llama": without_prefix("model."),
}


def save(folder, architecture, seed, rename=None):
    """A tiny model of ``architecture`` (weights from ``seed``) in ``folder``, its weights renamed by ``rename``."""
    tokenizer = build_tokenizer()
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(CONFIGS[architecture](len(tokenizer)), dtype=torch.float32)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    if rename is not None:
        weights = load_file(folder / "model.safetensors")
        save_file(rename(weights), folder / "model.safetensors", metadata={"format": "pt"})
    return folder


@pytest.mark.parametrize("architecture", sorted(CONFIGS))
def test_a_variant_naming_averages_like_the_standard_one(architecture, tmp_path, one_thread):
    a = save(tmp_path / "series" / "step000010", architecture, 1, VARIANTS[architecture])
    b = save(tmp_path / "series" / "step000020", architecture, 2)
    reference_a = save(tmp_path / "reference" / "step000010", architecture, 1)
    assert set(read_layout(a).tensors) != set(read_layout(reference_a).tensors)  # the files do name them apart
    model, _ = load_model(b, device="cpu")
    assert set(read_model_layout(a).tensors) <= set(model.state_dict())
    averaged = average_checkpoints([a, b], tmp_path / "avg")
    expected = average_checkpoints([reference_a, b], tmp_path / "expected")
    got, want = load_model(averaged, device="cpu")[0].state_dict(), load_model(expected, device="cpu")[0].state_dict()
    assert got.keys() == want.keys()
    assert all(torch.equal(got[name], want[name]) for name in want)
    shutil.copytree(b, tmp_path / "reference" / b.name)
    drift, reference = series_drift(tmp_path / "series"), series_drift(tmp_path / "reference")
    assert [r.module for r in drift] == [r.module for r in reference]  # the same modules, the same distances
    values = [v for r in drift for v in (r.l2, r.cosine)]
    assert values == pytest.approx([v for r in reference for v in (r.l2, r.cosine)], rel=1e-9, nan_ok=True)


def test_a_pythia_named_checkpoint_interpolates_to_its_ends(tmp_path, one_thread):
    a = save(tmp_path / "a", "gpt_neox", 1, pythia)
    b = save(tmp_path / "b", "gpt_neox", 2, pythia)
    assert {"embed_out.weight", "gpt_neox.embed_in.weight"} <= set(read_layout(a).tensors)
    assert "lm_head.weight" not in read_layout(a).tensors  # and transformers 5's model calls it lm_head.weight
    points = interpolation_path(a, b, [CAPITALS], points=3, config=EvalConfig(device="cpu"))
    by_alpha = {p.alpha: p.value for p in points}
    assert by_alpha[0.0] == direct(a, [CAPITALS])["capitals"]
    assert by_alpha[1.0] == direct(b, [CAPITALS])["capitals"]
    midpoint = average_checkpoints([a, b], tmp_path / "mid")
    assert "embed_out.weight" in read_layout(midpoint).tensors  # the average keeps the checkpoint's own names
    assert by_alpha[0.5] == direct(midpoint, [CAPITALS])["capitals"]
