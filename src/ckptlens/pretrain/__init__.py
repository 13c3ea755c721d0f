"""The embedded demo pretraining run: a tiny Llama trained on the demo world, checkpointed often.

>>> from ckptlens.pretrain import PretrainConfig, pretrain
>>> config = PretrainConfig.tiny()
>>> config.max_steps, config.save_every
(40, 4)

``pretrain(config, "runs/tiny")`` writes that series (``ckptlens pretrain --tiny --out runs/tiny``).
"""

from ckptlens.pretrain.config import PretrainConfig
from ckptlens.pretrain.run import pretrain

__all__ = ["PretrainConfig", "pretrain"]
