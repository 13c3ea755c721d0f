"""A series folder's ``manifest.json`` (written by ``pretrain``, ``average`` and the training callbacks), validated.

The manifest says where a series came from (``method``, ``window``, ``source`` for an averaged series), the
model's size and seed, and per checkpoint its step, tokens seen and losses. Each field is checked once, when
the file is read: a number of the wrong type, a negative step or a NaN loss is one line naming the file and
the field, never a silent wrong curve later. pydantic is imported only when a manifest is read.

>>> import tempfile, pathlib, json
>>> path = pathlib.Path(tempfile.mkdtemp()) / "manifest.json"
>>> _ = path.write_text(json.dumps({"checkpoints": [{"step": 10, "tokens_seen": -5}]}))
>>> read_manifest(path)  # doctest: +ELLIPSIS
Traceback (most recent call last):
ckptlens.errors.CkptlensError: .../manifest.json: field checkpoints[0].tokens_seen should be greater than or ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ckptlens.files import read_json, validated

FIX = "repair it, or remove it (the series is read without it)"
Finite = Annotated[float, Field(allow_inf_nan=False)]


class ManifestCheckpoint(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    step: int = Field(ge=0)
    tokens_seen: int | None = Field(default=None, ge=0)
    train_loss: Finite | None = None
    val_loss: Finite | None = None
    members: list[str] | None = None


class Manifest(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    method: str | None = None  # "average" or "ema" for a series ckptlens averaged
    window: int | None = Field(default=None, ge=1)
    decay: Finite | None = None
    source: str | None = None
    seed: int | None = None
    n_params: int | None = Field(default=None, ge=1)
    checkpoints: list[ManifestCheckpoint] = []


def read_manifest(path: Path) -> dict:
    """The manifest at ``path`` as a dict, validated against ``Manifest``."""
    data = read_json(path, FIX)
    validated(Manifest, data, path, fix=FIX)
    return data
