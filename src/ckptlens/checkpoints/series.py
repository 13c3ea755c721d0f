"""A checkpoint series: checkpoint folders ordered by training step.

>>> parse_step("checkpoint-1200"), parse_step("step1200"), parse_step("iter_0001200")
(1200, 1200, 1200)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from ckptlens.errors import CkptlensError

# Checked in order; the first that matches the folder name gives the step.
STEP_PATTERNS = (
    re.compile(r"^(?:step|ckpt|checkpoint|global_step|iter)[-_]?0*(\d+)$", re.IGNORECASE),
    re.compile(r"(?:^|[-_])step[-_]?0*(\d+)(?:$|[-_])", re.IGNORECASE),
)
TOKENS_PATTERN = re.compile(r"(?:^|[-_])tokens?[-_]?(\d+(?:\.\d+)?)([KMBT]?)(?:$|[-_])", re.IGNORECASE)
TOKEN_UNITS = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}
SERIES_MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of a series: a Hugging Face model folder and its training step."""

    name: str
    path: Path
    step: int
    tokens_seen: int | None = None
    follows_gap: bool = False  # an incomplete checkpoint was skipped just before this one (--skip-incomplete)


def window_is_whole(series: list[Checkpoint], end: int, window: int) -> bool:
    """Whether the trailing window of ``window`` checkpoints ending at index ``end`` spans no skipped checkpoint.

    >>> a, b = Checkpoint("step1", Path("a"), 1), Checkpoint("step3", Path("b"), 3, follows_gap=True)
    >>> window_is_whole([a, b], 1, 2), window_is_whole([a, b], 1, 1)
    (False, True)
    """
    return not any(c.follows_gap for c in series[end - window + 2 : end + 1])


def parse_step(name: str) -> int | None:
    """The training step a checkpoint folder name encodes, or None."""
    for pattern in STEP_PATTERNS:
        match = pattern.search(name)
        if match:
            return int(match.group(1))
    return None


def parse_tokens(name: str) -> int | None:
    """Tokens seen from a name part like ``tokens4B`` (OLMo) or ``tokens2100M``, or None.

    >>> parse_tokens("stage1-step1000-tokens4B"), parse_tokens("step1000")
    (4000000000, None)
    """
    match = TOKENS_PATTERN.search(name)
    if match is None:
        return None
    return round(float(match.group(1)) * TOKEN_UNITS[match.group(2).upper()])


def discover_series(root: str | Path, skip_incomplete: bool = False) -> list[Checkpoint]:
    """The checkpoints under ``root``, sorted by step.

    A checkpoint is a sub-folder whose name encodes a step (``step1200``,
    HF Trainer ``checkpoint-1200``, Megatron/NeMo ``iter_0001200`` or
    ``global_step1200``, OLMo ``stage1-step1200-tokens5B``) and that holds a
    ``config.json``, with ``model.safetensors`` or a sharded index beside it.
    Tokens seen come from the series ``manifest.json`` when it lists them (the
    embedded pretraining run writes one), else from the folder name.

    A checkpoint folder without ``config.json`` is an error naming it: skipping it
    silently would make neighbours of checkpoints that are not. With
    ``skip_incomplete`` it is left out, and the checkpoint after it is marked
    ``follows_gap`` so that no averaging or ensembling window spans the gap.
    """
    root = Path(root)
    if not root.is_dir():
        raise CkptlensError(f"series folder not found: {root}")
    tokens = _tokens_by_step(root)
    found, incomplete = [], []
    for child in root.iterdir():
        step = parse_step(child.name)
        if step is None or not child.is_dir():
            continue
        if not (child / "config.json").is_file():
            incomplete.append((step, child))
            continue
        found.append(Checkpoint(child.name, child, step, tokens.get(step, parse_tokens(child.name))))
    if incomplete and not skip_incomplete:
        folder = min(incomplete)[1]
        raise CkptlensError(
            f"checkpoint folder {folder} has no config.json; complete or remove it, "
            "or pass --skip-incomplete to leave it out (no window then spans it)"
        )
    if not found:
        raise CkptlensError(
            f"no checkpoints in {root}: expected sub-folders named like step1200, "
            "checkpoint-1200 or iter_0001200, each with a config.json"
        )
    steps = [c.step for c in found]
    duplicated = sorted({s for s in steps if steps.count(s) > 1})
    if duplicated:
        raise CkptlensError(f"several checkpoints in {root} share a step: {duplicated[:5]}; keep one per step")
    return _mark_gaps(sorted(found, key=lambda c: c.step), sorted(step for step, _ in incomplete))


def _mark_gaps(found: list[Checkpoint], skipped: list[int]) -> list[Checkpoint]:
    """``found`` with ``follows_gap`` set on each checkpoint that comes right after a skipped step."""
    marked = []
    for previous, ckpt in zip([None, *found], found):
        low = -1 if previous is None else previous.step
        gap = previous is not None and any(low < s < ckpt.step for s in skipped)
        marked.append(replace(ckpt, follows_gap=True) if gap else ckpt)
    return marked


def _tokens_by_step(root: Path) -> dict[int, int]:
    manifest = root / SERIES_MANIFEST
    if not manifest.is_file():
        return {}
    from ckptlens.checkpoints.manifest import read_manifest  # pydantic: only when a manifest is read

    rows = read_manifest(manifest)["checkpoints"]
    return {r["step"]: r["tokens_seen"] for r in rows if r.get("tokens_seen") is not None}
