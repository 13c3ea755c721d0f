"""Averaged folders are ordinary Hugging Face checkpoints: they load and compute the averaged model."""

import torch
from transformers import AutoModelForCausalLM

from ckptlens.averaging import average_series, iter_window_averages
from ckptlens.checkpoints import discover_series

TOKENS = torch.tensor([[3, 5, 7, 9, 11, 2]])


def manual_average_model(folders):
    """A model whose state_dict is the float64 mean of the members', built the plain torch way."""
    models = [AutoModelForCausalLM.from_pretrained(folder) for folder in folders]
    states = [m.state_dict() for m in models]
    averaged = {
        name: torch.stack([s[name].double() for s in states]).mean(0).to(tensor.dtype)
        for name, tensor in states[-1].items()
    }
    models[-1].load_state_dict(averaged)
    return models[-1].eval()


def logits(model):
    with torch.no_grad():
        return model(TOKENS).logits


def test_average_loads_and_gives_the_manual_average_logits(tiny_series, tmp_path):
    series = discover_series(tiny_series)
    outputs = average_series(series, 3, tmp_path / "avg")
    assert [c.name for c in outputs] == [c.name for c in series[2:]]
    loaded = AutoModelForCausalLM.from_pretrained(outputs[-1].path).eval()
    expected = manual_average_model([c.path for c in series[1:]])
    assert torch.allclose(logits(loaded), logits(expected), atol=1e-5)
    assert (outputs[-1].path / "tokenizer.json").is_file() and (outputs[-1].path / "generation_config.json").is_file()


def test_in_memory_averages_match_the_written_ones(tiny_series, tmp_path):
    series = discover_series(tiny_series)
    [(newest, state)] = list(iter_window_averages(series, 4))
    assert newest.name == series[-1].name
    model = AutoModelForCausalLM.from_pretrained(series[-1].path).eval()
    model.load_state_dict(state, strict=False)
    written = average_series(series, 4, tmp_path / "avg")[0]
    assert torch.equal(logits(model), logits(AutoModelForCausalLM.from_pretrained(written.path).eval()))


def test_sharded_save_pretrained_series_round_trips(tiny_series, tmp_path):
    for checkpoint in discover_series(tiny_series)[:2]:
        model = AutoModelForCausalLM.from_pretrained(checkpoint.path)
        model.save_pretrained(tmp_path / "sharded" / checkpoint.name, max_shard_size="20KB")
    series = discover_series(tmp_path / "sharded")
    assert len(list(series[0].path.glob("*.safetensors"))) > 1
    out = average_series(series, 2, tmp_path / "avg")[0].path
    assert sorted(p.name for p in out.glob("*.safetensors")) == sorted(
        p.name for p in series[1].path.glob("*.safetensors")
    )
    loaded = AutoModelForCausalLM.from_pretrained(out).eval()
    assert torch.allclose(logits(loaded), logits(manual_average_model([c.path for c in series])), atol=1e-5)
