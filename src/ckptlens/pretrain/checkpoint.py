"""Writing checkpoints and the series manifest so that a killed run leaves only complete files.

Each checkpoint folder is written under a temporary name that no checkpoint
pattern matches and then renamed; the manifest is written to a temporary file
and renamed over the old one.
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import PreTrainedModel, PreTrainedTokenizerFast

from ckptlens.checkpoints.series import SERIES_MANIFEST
from ckptlens.checkpoints.writing import save_pretrained_atomic
from ckptlens.files import write_text_atomic


def checkpoint_name(step: int) -> str:
    """The folder name of the checkpoint at ``step``, e.g. ``step000120``."""
    return f"step{step:06d}"


def save_checkpoint(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, out_dir: Path, step: int) -> Path:
    """Save model, generation config and tokenizer as ``out_dir/step{step:06d}/``, atomically."""
    return save_pretrained_atomic(model, tokenizer, out_dir / checkpoint_name(step))


def write_manifest(out_dir: Path, manifest: dict) -> Path:
    """Write ``out_dir/manifest.json`` atomically (temporary file, then rename)."""
    return write_text_atomic(out_dir / SERIES_MANIFEST, json.dumps(manifest, indent=2) + "\n")
