"""A tiny model for the engine tests, run on one CPU thread.

With small matrices, torch's thread pool costs more than it saves, and on a
shared machine contended threads make batch-size-1 runs tens of times slower.
"""

import pytest
import torch

from ckptlens.checkpoints.loading import load_model


@pytest.fixture(scope="session")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_series, one_thread):
    """The step-20 checkpoint of the tiny series on CPU, with its tokenizer."""
    return load_model(tiny_series / "step000020", device="cpu")
