"""load_model: eval-mode model and tokenizer, and one-line errors for folders it must refuse."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from ckptlens.checkpoints.loading import load_model, resolve_dtype
from ckptlens.errors import CkptlensError


@pytest.fixture
def checkpoint_copy(tiny_series, tmp_path):
    """A writable copy of the first checkpoint of the tiny series."""
    return shutil.copytree(tiny_series / "step000010", tmp_path / "step000010")


def _set_config(folder, **changes):
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))


def test_loads_saved_weights_in_eval_mode(tiny_series):
    folder = tiny_series / "step000010"
    model, tokenizer = load_model(folder, device="cpu")
    assert not model.training
    assert model.dtype == torch.float32
    saved = load_file(folder / "model.safetensors")
    assert torch.equal(
        model.state_dict()["model.layers.0.mlp.up_proj.weight"], saved["model.layers.0.mlp.up_proj.weight"]
    )
    assert tokenizer("the capital of", add_special_tokens=False)["input_ids"]


def test_dtype_is_applied(tiny_series):
    model, _ = load_model(tiny_series / "step000010", device="cpu", dtype="bfloat16")
    assert model.dtype == torch.bfloat16


def test_unknown_dtype_is_refused(tiny_series):
    with pytest.raises(CkptlensError, match="unknown dtype 'fp8'"):
        load_model(tiny_series / "step000010", dtype="fp8")
    assert resolve_dtype("float16") == torch.float16


def test_folder_without_weights_is_refused(checkpoint_copy):
    (checkpoint_copy / "model.safetensors").unlink()
    with pytest.raises(CkptlensError, match="no weights in .*expected model.safetensors"):
        load_model(checkpoint_copy)


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(CkptlensError, match="checkpoint folder not found"):
        load_model(tmp_path / "nope")


def test_pickle_weights_need_allow_pickle(checkpoint_copy):
    weights = load_file(checkpoint_copy / "model.safetensors")
    torch.save(weights, checkpoint_copy / "pytorch_model.bin")
    (checkpoint_copy / "model.safetensors").unlink()
    with pytest.raises(CkptlensError, match="pickle weights.*allow_pickle=True"):
        load_model(checkpoint_copy)
    model, _ = load_model(checkpoint_copy, device="cpu", allow_pickle=True)
    assert torch.equal(model.state_dict()["model.norm.weight"], weights["model.norm.weight"])


def test_config_with_other_shapes_is_refused(checkpoint_copy):
    _set_config(checkpoint_copy, hidden_size=64, intermediate_size=128)
    with pytest.raises(
        CkptlensError, match=f"config and weights disagree in {checkpoint_copy}.*other shapes"
    ):
        load_model(checkpoint_copy)


def test_config_with_more_layers_is_refused(checkpoint_copy):
    _set_config(checkpoint_copy, num_hidden_layers=3)
    with pytest.raises(CkptlensError, match="config and weights disagree.*missing from the weights"):
        load_model(checkpoint_copy)


def test_errors_are_one_line(checkpoint_copy):
    _set_config(checkpoint_copy, hidden_size=64, intermediate_size=128)
    with pytest.raises(CkptlensError) as err:
        load_model(checkpoint_copy)
    assert "\n" not in str(err.value)


def test_folder_without_tokenizer_is_refused(checkpoint_copy):
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (checkpoint_copy / name).unlink()
    with pytest.raises(CkptlensError, match="no usable tokenizer in"):
        load_model(checkpoint_copy)
