"""The one streaming driver behind every averaged series: a rule's outputs written as Hugging Face folders.

A *rule* (``window.WindowRule``: trailing-window means; ``ema.EmaRule``: an
exponential moving average) says which checkpoints end an output, which
checkpoints each output averages, and streams the averaged state output by
output. The driver does the rest once for all rules: order the series, refuse
an output folder that is the series itself, resume (outputs already written are
kept, and listed again in the manifest), write each output atomically in the
input's layout with config and tokenizer from its newest member, rewrite
``manifest.json`` after each output and report progress.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol

import torch

from ckptlens.averaging.mean import is_averaged
from ckptlens.averaging.writer import OutputFile, read_manifest, write_checkpoint, write_manifest
from ckptlens.checkpoints.safetensors_stream import Fill, TensorSpec
from ckptlens.checkpoints.series import Checkpoint
from ckptlens.checkpoints.source import series_id
from ckptlens.checkpoints.weights import Layout, TensorInfo, torch_dtype
from ckptlens.errors import CkptlensError
from ckptlens.files import refused_writes

Progress = Callable[[int, int], None]
TensorFor = Callable[[str, torch.dtype], "torch.Tensor | Fill"]  # (tensor name, output dtype) -> tensor or block fill


class Rule(Protocol):
    """An averaging rule: what the driver needs to know of it."""

    method: str  # the manifest's "method"
    label: str  # what its outputs are called in messages ("averages")

    def params(self) -> dict:
        """The rule's settings as the manifest records them (``{"window": 4}``, ``{"decay": 0.9}``)."""

    def targets(self, series: list[Checkpoint], stride: int, steps: Iterable[int] | None) -> list[int]:
        """Indices of the checkpoints that end an output, in order."""

    def members(self, series: list[Checkpoint], target: int) -> list[Checkpoint]:
        """The checkpoints the output ending at ``target`` averages."""

    def outputs(self, series: list[Checkpoint], targets: list[int]) -> Iterator[tuple[int, Layout, TensorFor]]:
        """For each of ``targets`` in order: its index, its layout, and its averaged tensors."""


def write_averages(
    series: list[Checkpoint],
    rule: Rule,
    out_dir: Path,
    stride: int = 1,
    steps: Iterable[int] | None = None,
    progress: Progress | None = None,
    dtype: torch.dtype | str | None = None,
    source: str | None = None,
) -> list[Checkpoint]:
    """Write ``rule``'s output ending at every ``stride``-th checkpoint (or at ``steps``) to ``out_dir/<name>/``.

    Each output carries its newest member's name, step and tokens seen. Finished outputs are
    kept, so an interrupted run resumes. ``out_dir/manifest.json`` lists every output with its
    members; its ``source`` is ``source`` (``series_id`` of the series spec), by default the series' folder.
    """
    series = sorted(series, key=lambda c: c.step)
    targets = rule.targets(series, stride, steps)
    out_dir, resolved = Path(out_dir), resolve_output_dtype(dtype)
    check_out_dir(out_dir, series)
    entries = _resumed_entries(out_dir, series, rule, targets)
    report_progress(progress, len(entries), len(targets))
    for target, layout, tensor_for in rule.outputs(series, [t for t in targets if t not in entries]):
        files = _output_files(layout, tensor_for, resolved)
        write_output(out_dir / series[target].name, series[target], layout, files, resolved)
        entries[target] = _manifest_entry(series, rule, target)
        manifest = {"method": rule.method, **rule.params(), "source": source or series_id(series[0].path.parent),
                    "checkpoints": [entries[t] for t in sorted(entries)]}  # fmt: skip
        write_manifest(out_dir, manifest)
        report_progress(progress, len(entries), len(targets))
    return [Checkpoint(series[t].name, out_dir / series[t].name, series[t].step, series[t].tokens_seen)
            for t in targets]  # fmt: skip


def _output_files(layout: Layout, tensor_for: TensorFor, dtype: torch.dtype | None) -> list[OutputFile]:
    """The averaged weight files in the input's layout, each tensor produced as the writer reaches it."""

    def tensors(file: str) -> Iterator[tuple[str, torch.Tensor | Fill]]:
        for name, info in layout.tensors.items():
            if info.file == file:
                yield name, tensor_for(name, output_dtype(info, dtype))

    return [OutputFile(file, output_specs(layout, file, dtype), tensors(file)) for file in layout.files()]


def _resumed_entries(out_dir: Path, series: list[Checkpoint], rule: Rule, targets: list[int]) -> dict[int, dict]:
    """Manifest entries of the outputs already written; a folder holding another rule's outputs is an error."""
    manifest = read_manifest(out_dir)
    params = rule.params()
    if manifest is not None and (manifest.get("method"), *(manifest.get(k) for k in params)) != (
        rule.method, *params.values()
    ):
        found = ", ".join(f"{k} {manifest.get(k)}" for k in params)
        wanted = ", ".join(f"{k} {v}" for k, v in params.items())
        raise CkptlensError(f"{out_dir} holds {manifest.get('method')} outputs with {found}, not {rule.label} "
                            f"with {wanted}; choose another output folder")
    return {t: _manifest_entry(series, rule, t) for t in targets if (out_dir / series[t].name).is_dir()}


def _manifest_entry(series: list[Checkpoint], rule: Rule, target: int) -> dict:
    members = [c.name for c in rule.members(series, target)]
    return {"step": series[target].step, "tokens_seen": series[target].tokens_seen, "members": members}


def output_specs(layout: Layout, file: str, dtype: torch.dtype | None) -> dict[str, TensorSpec]:
    return {
        name: TensorSpec(output_dtype(info, dtype), info.shape)
        for name, info in layout.tensors.items()
        if info.file == file
    }


def output_dtype(info: TensorInfo, dtype: torch.dtype | None) -> torch.dtype:
    """Averaged tensors take ``dtype`` when given; integer tensors always keep theirs."""
    stored = torch_dtype(info.dtype)
    return dtype if dtype is not None and is_averaged(stored) else stored


def write_output(
    out: Path, newest: Checkpoint, layout: Layout, files: list[OutputFile], dtype: torch.dtype | None
) -> None:
    """Write one averaged checkpoint folder; config, tokenizer and other small files come from ``newest``."""
    config_dtype = None if dtype is None else str(dtype).removeprefix("torch.")
    write_checkpoint(out, newest.path, [_stored_names(layout, f) for f in files], layout.sharded, config_dtype)


def _stored_names(layout: Layout, file: OutputFile) -> OutputFile:
    """``file`` with its tensors under the names the newest checkpoint stores them (its ``config.json`` is copied)."""
    tensors = ((layout.stored_name(name), value) for name, value in file.tensors)
    return OutputFile(file.name, {layout.stored_name(n): spec for n, spec in file.specs.items()}, tensors)


def resolve_output_dtype(dtype: torch.dtype | str | None) -> torch.dtype | None:
    """``"bfloat16"`` or a torch dtype as a floating torch dtype; None keeps each tensor's stored dtype."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    resolved = getattr(torch, str(dtype), None)
    if not isinstance(resolved, torch.dtype) or not resolved.is_floating_point:
        raise CkptlensError(f"unknown output dtype {dtype!r}; use float32, bfloat16 or float16")
    return resolved


def check_out_dir(out_dir: Path, series: list[Checkpoint]) -> None:
    if any(out_dir.resolve() == c.path.parent.resolve() for c in series):
        raise CkptlensError(f"{out_dir} holds the series itself; write averages to another folder")
    if out_dir.exists() and not out_dir.is_dir():
        raise CkptlensError(f"--out {out_dir} is a file; name a folder for the averaged checkpoints")
    with refused_writes(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)


def report_progress(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)
