import dataclasses

import pytest

from ckptlens.errors import CkptlensError
from ckptlens.pretrain import PretrainConfig


def test_defaults_give_dozens_of_checkpoints_and_a_constant_learning_rate_phase():
    config = PretrainConfig()
    assert 40 <= config.max_steps // config.save_every <= 60
    assert config.warmup_steps < config.max_steps // 5


def test_config_is_frozen_and_snapshots_as_a_plain_dict():
    config = PretrainConfig.tiny()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 1
    assert config.to_dict()["max_steps"] == config.max_steps


def test_invalid_values_are_reported_together():
    with pytest.raises(CkptlensError, match="max_steps must be positive.*save_every must be positive"):
        PretrainConfig(max_steps=0, save_every=0)
    with pytest.raises(CkptlensError, match="divisible by n_heads"):
        PretrainConfig(hidden_size=130)
