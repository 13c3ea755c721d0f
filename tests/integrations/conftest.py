"""The tiny demo model, its tokenizer and token windows of its corpus, for training-loop tests."""

from dataclasses import replace

import pytest
import torch

from ckptlens.pretrain import PretrainConfig
from ckptlens.pretrain.data import tokenize_corpus
from ckptlens.pretrain.model import build_model
from ckptlens.pretrain.tokenizer import train_word_tokenizer
from ckptlens.world import answer_words, build_world, builtin_tasks, generate_documents

CONFIG = PretrainConfig.tiny()
TASKS = ("capital_choice", "capital_recall")  # one multiple-choice task, one generation task


@pytest.fixture(scope="package")
def demo_world():
    world = build_world(CONFIG.seed)
    documents = generate_documents(world, 200, seed=CONFIG.seed)
    tokenizer = train_word_tokenizer([*documents, answer_words(world)])
    stream = tokenize_corpus(documents, tokenizer, CONFIG.val_fraction).train
    length = CONFIG.context_length
    windows = [stream[i : i + length] for i in range(0, len(stream) - length, length)][:64]
    tasks = [replace(t, examples=t.examples[:40]) for t in builtin_tasks(world) if t.name in TASKS]
    return tokenizer, windows, tasks


@pytest.fixture
def tiny_model(demo_world):
    torch.manual_seed(0)
    return build_model(CONFIG, demo_world[0])


def scalars(log_dir):
    """{tag: [(step, value)]} of every TensorBoard scalar under ``log_dir``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}
