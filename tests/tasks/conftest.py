"""Fixtures for COMET without the package or its model: a fake ``comet`` module and an empty Hugging Face cache."""

from __future__ import annotations

import sys

import pytest
from huggingface_hub import constants

from ckptlens.tasks.comet import ENV_VARIABLE, comet_scorer
from tests.tasks.comet_fake import FakeComet


@pytest.fixture
def hub_cache(monkeypatch, tmp_path):
    """An empty Hugging Face cache in place of the user's, and no $CKPTLENS_COMET_MODEL."""
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.delenv(ENV_VARIABLE, raising=False)
    return cache


@pytest.fixture
def fake_comet(monkeypatch, hub_cache):
    """``import comet`` gives :class:`FakeComet`'s module; the loaded-scorer cache starts and ends empty."""
    fake = FakeComet()
    monkeypatch.setitem(sys.modules, "comet", fake.module())
    comet_scorer.cache_clear()
    yield fake
    comet_scorer.cache_clear()
