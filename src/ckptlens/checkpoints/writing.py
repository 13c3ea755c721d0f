"""Writing a Hugging Face checkpoint folder so that a killed writer leaves no half folder (one definition).

The folder is filled under a temporary name beside it (``files.atomic_dir``:
leftovers of killed writers are removed, the temporary folder too when saving
fails) and renamed into place. Used by the demo's pretraining and by the
Lightning callback's export.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ckptlens.files import atomic_dir


def save_pretrained_atomic(model, tokenizer, folder: str | Path, replace: bool = False) -> Path:
    """``model.save_pretrained`` and ``tokenizer.save_pretrained`` (when given) into ``folder``, atomically.

    ``replace``: an existing folder is replaced (a re-export of the same step); otherwise a folder
    another writer finished first is kept, since both wrote the same checkpoint.
    """
    folder = Path(folder)
    if replace and folder.is_dir():
        shutil.rmtree(folder)
    with atomic_dir(folder) as partial:
        model.save_pretrained(partial)
        if tokenizer is not None:
            tokenizer.save_pretrained(partial)
    return folder
