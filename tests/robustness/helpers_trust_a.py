"""Shared set-up of the silent-wrong-result and repair tests: a copy of the tiny series, a task, a store listing."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from tests.cli.conftest import write_mc_task


def copy_series(tiny_series: Path, dest: Path) -> Path:
    """A private copy of the read-only tiny series (steps 10..40)."""
    shutil.copytree(tiny_series, dest)
    return dest


def poison(checkpoint: Path, value: float = float("nan")) -> None:
    """Put ``value`` (NaN by default) into the first float tensor of the checkpoint's weights."""
    path = checkpoint / "model.safetensors"
    tensors = load_file(path)
    name = next(n for n, t in tensors.items() if t.is_floating_point())
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] = value
    save_file(tensors, path, metadata={"format": "pt"})


def task_file(path: Path, n: int = 6) -> Path:
    return write_mc_task(path, n=n)


def edit_task(path: Path, ids: tuple[str, ...]) -> None:
    """Change the prompt of the examples ``ids`` in a task file, as a user editing it would."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        if row["id"] in ids:
            row["context"] = row["context"].replace("Q: the", "Q: a")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def listing(store: Path) -> dict[str, str]:
    """Every file of the store with the hash of its bytes: equal before and after means untouched."""
    if not store.exists():
        return {}
    return {
        str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(store.rglob("*"))
        if p.is_file()
    }


def one_error_line(err: str) -> str:
    """The single error line on stderr (asserts there is exactly one and no traceback); warnings may precede it."""
    lines = [line for line in err.strip().splitlines() if line.strip() and not line.startswith("warning: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


