"""A checkpoint's tensor names as transformers maps them on load, so two namings of one model combine.

The names in a safetensors file are not always the names of the model that
loads it: Pythia's files say ``embed_out.weight`` where transformers 5's
GPT-NeoX has ``lm_head.weight``; a file saved from a base model lacks the
``gpt_neox.``/``model.``/``transformer.`` prefix; old files hold buffers the
model drops (``attention.masked_bias``, ``rotary_emb.inv_freq``); a tied
output layer may be stored or left out. transformers resolves all of that when
it loads a checkpoint, with the model class's own conversion mapping, base
model prefix, ignore patterns and tied-weight keys. This module asks the same
machinery, on a model built from ``config.json`` on the meta device (no
memory, no weights read), so averaging, drift and interpolation see the names
the loaded model has. Without a config (or with one transformers cannot
build), names are kept as stored.

>>> import tempfile, pathlib
>>> from transformers import GPTNeoXConfig
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> GPTNeoXConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
...               num_attention_heads=2).save_pretrained(folder)
>>> names = model_names(folder, ["embed_out.weight", "embed_in.weight", "layers.0.attention.masked_bias"])
>>> names.renamed["embed_out.weight"], names.renamed["embed_in.weight"], sorted(names.ignored)
('lm_head.weight', 'gpt_neox.embed_in.weight', ['layers.0.attention.masked_bias'])
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ckptlens.errors import CkptlensError


@dataclass(frozen=True)
class ModelNames:
    """How the model of a config names a checkpoint's stored tensors."""

    renamed: dict[str, str]  # stored name -> the model's name (the same name when transformers keeps it)
    ignored: frozenset[str] = frozenset()  # stored names transformers drops on load (stale buffers)
    tied: dict[str, str] = field(default_factory=dict)  # model name -> the model name it is tied to


def model_names(folder: Path, stored: Iterable[str]) -> ModelNames:
    """The model's name for each ``stored`` tensor name of the checkpoint in ``folder``."""
    stored = list(stored)
    config = Path(folder) / "config.json"
    mapping = _mapping(config.read_text(errors="replace")) if config.is_file() else None
    if mapping is None:
        return ModelNames({name: name for name in stored})
    renamed = {name: mapping.rename(name) for name in stored}
    _refuse_collisions(folder, renamed)
    ignored = frozenset(mapping.ignored(name for name, new in renamed.items() if new not in mapping.parameters))
    return ModelNames(renamed, ignored, dict(mapping.tied))


@dataclass(frozen=True)
class _Mapping:
    """transformers' loading rules for one model class: renamings, prefix, parameters, ignores, ties."""

    model: object
    renamings: list
    converters: list
    parameters: dict
    tied: dict[str, str]

    def rename(self, name: str) -> str:
        from transformers.core_model_loading import rename_source_key

        prefix = self.model.base_model_prefix
        renamed, converter = rename_source_key(name, self.renamings, self.converters, prefix, self.parameters)
        if renamed not in self.parameters and name in self.parameters:
            return name
        if converter is not None:
            raise CkptlensError(
                f"tensor {name} is converted by transformers when {type(self.model).__name__} loads it "
                "(split or fused); ckptlens combines checkpoints tensor by tensor: save them with save_pretrained first"
            )
        return renamed

    def ignored(self, unexpected: Iterable[str]) -> set[str]:
        """The unexpected names transformers drops without a word (its own rules, applied to a copy)."""
        from transformers.utils.loading_report import LoadStateDictInfo

        unexpected = set(unexpected)
        info = LoadStateDictInfo(set(), set(unexpected), set(), [], {}, set())
        self.model._adjust_missing_and_unexpected_keys(info)
        return unexpected - info.unexpected_keys


@functools.lru_cache(maxsize=8)
def _mapping(config_text: str) -> _Mapping | None:
    """The loading rules of the model ``config.json`` (its text) describes; None if transformers cannot build it."""
    try:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM
        from transformers.conversion_mapping import get_model_conversion_mapping
        from transformers.core_model_loading import WeightConverter, WeightRenaming

        data = json.loads(config_text)
        if not isinstance(data, dict) or "auto_map" in data:  # custom code is never run
            return None
        with _quiet(), torch.device("meta"):
            config = AutoConfig.for_model(**data)
            model = AutoModelForCausalLM.from_config(config)
        transforms = get_model_conversion_mapping(model)
    except (ImportError, OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError):
        return None
    return _Mapping(
        model,
        [t for t in transforms if isinstance(t, WeightRenaming)],
        [t for t in transforms if isinstance(t, WeightConverter)],
        model.state_dict(),
        dict(getattr(model, "all_tied_weights_keys", {}) or {}),
    )


def _refuse_collisions(folder: Path, renamed: dict[str, str]) -> None:
    seen: dict[str, str] = {}
    for name, new in renamed.items():
        if new in seen:
            raise CkptlensError(
                f"{folder} stores both {seen[new]} and {name}, which transformers loads as one tensor {new}; "
                "keep one of them"
            )
        seen[new] = name


@contextmanager
def _quiet() -> Iterator[None]:
    """Building a model on the meta device is not news: transformers' config notes stay unprinted."""
    logger = logging.getLogger("transformers")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
