"""Linear CKA and hidden states of task prompts, against a direct computation from transformers' outputs."""

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ckptlens.diagnostics.representations import (
    cosine_change,
    default_layers,
    linear_cka,
    project,
)
from ckptlens.evaluation.context_states import prompt_states

CONTEXTS = ["the capital of Paris is", "what is one plus two ?", "the cat sleeps and the dog runs",
            "Q : red or blue ? A :", "two plus two equals four", "the bird is green", "Oslo is a city",
            "yes or no ?", "three minus one equals", "the country of Rome"]


def test_cka_of_a_checkpoint_with_itself_is_one_and_invariant_to_rotation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 16))
    rotation = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    assert abs(linear_cka(x, x) - 1) < 1e-6
    assert abs(linear_cka(x, x @ rotation) - 1) < 1e-6
    y = rng.normal(size=(50, 8))
    assert abs(linear_cka(x, y) - linear_cka(x @ rotation, y)) < 1e-9
    assert linear_cka(x, y) < 0.6  # unrelated features


def direct_cka(x, y):
    """CKA by its kernel definition, HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) with K = X Xᵀ, L = Y Yᵀ."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, l_ = h @ (x @ x.T) @ h, h @ (y @ y.T) @ h
    return np.trace(k @ l_) / np.sqrt(np.trace(k @ k) * np.trace(l_ @ l_))


def test_per_layer_cka_equals_a_direct_computation_from_output_hidden_states(tiny_series, one_thread):
    folders = sorted(tiny_series.iterdir())[:2]
    tokenizer = AutoTokenizer.from_pretrained(folders[0])
    models = [AutoModelForCausalLM.from_pretrained(f) for f in folders]
    layers = default_layers(models[0].config.num_hidden_layers)
    assert layers == (1, 2)
    ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in CONTEXTS]
    stored = [{k: tuple(project(s) for s in v) for k, v in prompt_states(m, ids, layers, batch_size=4).items()}
              for m in models]
    direct = []
    for model in models:  # one context at a time, no padding: transformers' own hidden states
        per_layer = {layer: [] for layer in layers}
        for text in CONTEXTS:
            with torch.no_grad():
                out = model(**tokenizer(text, return_tensors="pt", add_special_tokens=False), output_hidden_states=True)
            for layer in layers:
                per_layer[layer].append(out.hidden_states[layer][0].mean(dim=0).numpy())
        direct.append({layer: np.array(v, dtype=np.float64) for layer, v in per_layer.items()})
    for layer in layers:
        ours = linear_cka(stored[0][layer][0], stored[1][layer][0])
        assert abs(ours - direct_cka(direct[0][layer], direct[1][layer])) < 1e-4
        assert stored[0][layer][0].dtype == np.float16 and stored[0][layer][0].shape == (len(CONTEXTS), 32)
    change = cosine_change(stored[0][2][1], stored[1][2][1])
    assert change.shape == (len(CONTEXTS),) and (change > 0).all()


def test_projection_is_fixed_by_its_seed_and_bounded_in_size():
    states = np.random.default_rng(0).normal(size=(30, 512)).astype(np.float32)
    a, b = project(states, 256, seed=3), project(states, 256, seed=3)
    assert a.dtype == np.float16 and a.shape == (30, 256) and np.array_equal(a, b)
    assert a.nbytes / 30 == 512  # one layer's vector: 256 float16 values
    assert linear_cka(states, a) == pytest.approx(1.0, abs=0.1)  # a random projection keeps the geometry roughly
