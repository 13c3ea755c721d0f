"""Session fixtures: a tiny checkpoint series built locally (no downloads).

``tiny_series`` is a folder of four checkpoints (steps 10..40) of a 2-layer
Llama with hidden size 32 and a word-level tokenizer trained here with
``tokenizers``; the weights are random and differ per checkpoint.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from ckptlens.cli.app import main

WORDS = (
    "the capital of is what a an and or not yes no one two three four five six seven eight nine ten "
    "plus minus equals Q A : ? . , red blue green cat dog bird runs sleeps city country Paris Rome Oslo"
).split()


def build_tokenizer(words=WORDS) -> PreTrainedTokenizerFast:
    """A word-level tokenizer trained locally on ``words``, with pad/eos/unk tokens."""
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    trainer = trainers.WordLevelTrainer(special_tokens=["<pad>", "<eos>", "<unk>"])
    tok.train_from_iterator([" ".join(words)] * 2, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")


def build_tiny_model(vocab_size: int, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=1,
    )
    return LlamaForCausalLM(config)


def write_series(root: Path, steps=(10, 20, 30, 40)) -> Path:
    tokenizer = build_tokenizer()
    for i, step in enumerate(steps):
        folder = root / f"step{step:06d}"
        build_tiny_model(len(tokenizer), seed=i).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return root


@pytest.fixture(scope="session")
def one_thread():
    """Torch on one CPU thread: with small matrices its thread pool costs more than it saves, and on a
    shared machine contended threads make batch-size-1 runs tens of times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_series(tmp_path_factory) -> Path:
    """A series folder of four tiny random checkpoints; treat it as read-only."""
    return write_series(tmp_path_factory.mktemp("tiny_series"))


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run ``ckptlens ARGS`` in-process; returns (exit code, stdout, stderr)."""

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["ckptlens", *map(str, args)])
        code = 0
        try:
            main()
        except SystemExit as exit:
            code = exit.code or 0
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="session")
def lm_eval_include(tmp_path_factory) -> Path:
    """An --include-path folder of lm-eval's own YAMLs on local data (``tests/lm_eval_local.py``)."""
    pytest.importorskip("lm_eval", reason="lm-eval is the optional extra ckptlens[lm-eval] (in the test extra)")
    from tests.lm_eval_local import write_include_path

    return write_include_path(tmp_path_factory.mktemp("lm_eval"))
