"""Exponential moving average: the float64 reference recurrence, each checkpoint read once, loadable output."""

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from ckptlens.averaging import ema_series
from ckptlens.averaging.writer import read_manifest
from ckptlens.checkpoints import discover_series
from ckptlens.errors import CkptlensError


def reference_ema(states, decay):
    average = states[0]["w"].double()
    for state in states[1:]:
        average = decay * average + (1 - decay) * state["w"].double()
    return average.float()


def test_ema_follows_the_recurrence_and_copies_integer_tensors(toy_series, tmp_path):
    states = [load_file(c.path / "model.safetensors") for c in toy_series]
    outputs = ema_series(toy_series, 0.75, tmp_path / "ema", stride=2)
    assert [c.step for c in outputs] == [200, 400, 600]
    last = load_file(outputs[-1].path / "model.safetensors")
    assert torch.allclose(last["w"], reference_ema(states, 0.75), rtol=0, atol=1e-6)
    assert last["b"].dtype == torch.bfloat16
    assert torch.equal(last["pos"], states[-1]["pos"])
    manifest = read_manifest(tmp_path / "ema")
    assert (manifest["method"], manifest["decay"]) == ("ema", 0.75)
    assert manifest["checkpoints"][0]["members"] == ["step100", "step200"]


def test_decay_zero_is_the_raw_checkpoint_and_each_checkpoint_is_read_once(toy_series, tmp_path, read_counter):
    [output] = ema_series(toy_series, 0.0, tmp_path / "ema", steps=[600])
    assert torch.equal(
        load_file(output.path / "model.safetensors")["w"], load_file(toy_series[-1].path / "model.safetensors")["w"]
    )
    assert max(read_counter.values()) == 1


def test_ema_folder_loads_with_from_pretrained(tiny_series, tmp_path):
    [output] = ema_series(discover_series(tiny_series), 0.5, tmp_path / "ema", steps=[40])
    model = AutoModelForCausalLM.from_pretrained(output.path)
    assert model.config.num_hidden_layers == 2


@pytest.mark.parametrize("decay", [1.0, -0.1])
def test_decay_out_of_range_is_refused(toy_series, tmp_path, decay):
    with pytest.raises(CkptlensError, match=r"--ema takes a decay in \[0, 1\)"):
        ema_series(toy_series, decay, tmp_path / "ema")
