"""A tiny model for the engine tests, run on one CPU thread (``one_thread`` in the top conftest)."""

import pytest

from ckptlens.checkpoints.loading import load_model


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_series, one_thread):
    """The step-20 checkpoint of the tiny series on CPU, with its tokenizer."""
    return load_model(tiny_series / "step000020", device="cpu")
