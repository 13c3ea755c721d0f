"""A checkpoint folder's fingerprint: how a run recognises its checkpoints after the series folder moved.

Reading every byte of a large series takes minutes, so the fingerprint hashes
what tells two checkpoints apart at a fraction of that: each weight file's name
and size, its first and last 64 KiB (a safetensors header names every tensor,
dtype and offset) and 64 KiB at each quarter, plus ``config.json``. Weights of
two training steps differ in every block, so equal fingerprints mean the same
checkpoint; it is a guard against pointing a run at the wrong folder, not a
cryptographic check of every byte.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "config.json").write_text("{}")
>>> _ = (folder / "model.safetensors").write_bytes(bytes(range(256)) * 1000)
>>> fingerprint(folder) == fingerprint(folder), len(fingerprint(folder))
(True, 64)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 64 * 1024
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def fingerprint(folder: str | Path) -> str:
    """SHA-256 (hex) over the folder's config and sampled weight bytes (the module docstring)."""
    folder = Path(folder)
    digest = hashlib.sha256()
    config = folder / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    for path in sorted(p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.name}\0{size}\0".encode())
        with path.open("rb") as file:
            for offset in sorted({0, size // 4, size // 2, 3 * size // 4, max(size - CHUNK, 0)}):
                file.seek(offset)
                digest.update(file.read(CHUNK))
    return digest.hexdigest()
