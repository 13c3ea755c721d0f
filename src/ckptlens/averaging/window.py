"""Trailing-window checkpoint averaging over a series, streamed tensor by tensor.

``avg_t = 1/n * sum(theta_{t-k} for k in 0..n-1)`` over the series ordered by
step. The float32 window sums of one model are the only large state: each
output adds the checkpoints entering the window and subtracts those leaving
it (see ``plan``), so a checkpoint is read about twice, not n times, and peak
memory is about one model in float32: each mean is divided and written one
cache-sized block at a time (see ``mean.quotient_to`` and ``safetensors_stream``).
A single average of listed checkpoints keeps no sums at all: block by block,
it sums the memory-mapped inputs and writes their mean (``mean.mean_to``).

>>> from ckptlens.checkpoints import discover_series
>>> series = discover_series("runs/demo")
>>> averaged = average_series(series, window=3, out_dir=Path("runs/demo-avg3"))
>>> [c.step for c in averaged]
[30, 40, 50, 60]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import torch

from ckptlens.averaging.mean import Sink, finish, fresh_sum, is_averaged, mean_to, quotient_to, slide
from ckptlens.averaging.plan import RESUM_EVERY, plan_updates
from ckptlens.averaging.writer import OutputFile, read_manifest, write_checkpoint, write_manifest
from ckptlens.checkpoints.safetensors_stream import Fill, TensorSpec
from ckptlens.checkpoints.series import Checkpoint, parse_step, window_is_whole
from ckptlens.checkpoints.source import series_id
from ckptlens.checkpoints.weights import (
    Layout,
    TensorInfo,
    WeightReader,
    compare_layouts,
    open_weights,
    read_model_layout,
    torch_dtype,
)
from ckptlens.errors import CkptlensError
from ckptlens.files import refused_writes

Progress = Callable[[int, int], None]
# (tensor name -> float32 window sum, tensor name -> integer tensor copied from the newest member)
WindowState = tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]


def average_checkpoints(
    checkpoints: list[Checkpoint | Path],
    out: Path,
    dtype: torch.dtype | str | None = None,
    progress: Progress | None = None,
) -> Path:
    """Average the listed checkpoints (oldest first) into the Hugging Face folder ``out``.

    The last checkpoint is the newest: its config, tokenizer and integer
    buffers are kept. Each output tensor is the correctly rounded float32 mean
    of the float64 sum, computed and written one cache-sized block at a time. ``dtype``
    (e.g. ``"float32"``) overrides the stored dtype; ``progress(done, total)`` counts tensors written.

    >>> average_checkpoints([Path("runs/demo/step000050"), Path("runs/demo/step000060")], Path("avg"))
    PosixPath('avg')
    """
    members = [c if isinstance(c, Checkpoint) else _as_checkpoint(Path(c), i) for i, c in enumerate(checkpoints)]
    out, resolved = Path(out), resolve_output_dtype(dtype)
    if not members:
        raise CkptlensError("average_checkpoints needs at least one checkpoint")
    if out.exists():
        raise CkptlensError(f"{out} already exists; remove it or choose another output folder")
    with refused_writes(out.parent):
        out.parent.mkdir(parents=True, exist_ok=True)
    layouts = [read_model_layout(c.path) for c in members]
    newest = members[-1]
    for member, layout in zip(members[:-1], layouts[:-1], strict=True):
        compare_layouts(layouts[-1], newest.name, layout, member.name)
    counter = _TensorCounter(len(layouts[-1].tensors), progress)
    with ExitStack() as stack:
        readers = [stack.enter_context(open_weights(c.name, c.path, lay)) for c, lay in zip(members, layouts)]
        files = [
            OutputFile(
                file,
                output_specs(layouts[-1], file, resolved),
                counter.counted(_streamed_means(layouts[-1], file, readers, resolved)),
            )
            for file in layouts[-1].files()
        ]
        write_output(out, newest, layouts[-1], files, resolved)
    counter.report()
    return out


def average_series(
    series: list[Checkpoint],
    window: int,
    out_dir: Path,
    stride: int = 1,
    steps: Iterable[int] | None = None,
    progress: Progress | None = None,
    dtype: torch.dtype | str | None = None,
    source: str | None = None,
) -> list[Checkpoint]:
    """Write the trailing-window average ending at every ``stride``-th checkpoint to ``out_dir``.

    Output ``out_dir/<name of theta_t>/`` carries theta_t's name, step and
    tokens seen; ``steps`` keeps only those outputs. Finished outputs are
    skipped, so an interrupted run resumes. ``out_dir/manifest.json`` lists
    every output with its members and is rewritten after each one; its ``source`` is ``source``
    (``series_id`` of the series spec, e.g. ``hf://org/name``), by default the series' resolved folder.

    >>> from ckptlens.checkpoints import discover_series
    >>> [c.name for c in average_series(discover_series("runs/demo"), 3, Path("runs/demo-avg3"), steps=[60])]
    ['step000060']
    """
    series = sorted(series, key=lambda c: c.step)
    targets = _select_targets(series, window, stride, steps)
    out_dir, resolved = Path(out_dir), resolve_output_dtype(dtype)
    check_out_dir(out_dir, series)
    entries = _resumed_entries(out_dir, series, window, targets)
    todo = [t for t in targets if t not in entries]
    layouts = {i: read_model_layout(series[i].path) for t in todo for i in range(t - window + 1, t + 1)}
    report_progress(progress, len(entries), len(targets))
    for target, state in _window_states(series, layouts, window, todo):
        files = _output_files(layouts[target], state, window, resolved)
        write_output(out_dir / series[target].name, series[target], layouts[target], files, resolved)
        entries[target] = _manifest_entry(series, target, window)
        write_manifest(out_dir, _manifest(series, window, entries, source))
        report_progress(progress, len(entries), len(targets))
    return [
        Checkpoint(series[t].name, out_dir / series[t].name, series[t].step, series[t].tokens_seen) for t in targets
    ]


def iter_window_averages(
    series: list[Checkpoint], window: int, steps: Iterable[int] | None = None
) -> Iterator[tuple[Checkpoint, dict[str, torch.Tensor]]]:
    """Yield ``(newest member, averaged state_dict)`` for each full window, without writing anything.

    For evaluating averaged models in memory: ``model.load_state_dict(state, strict=False)``
    (tied weights may be stored once).

    >>> for checkpoint, state in iter_window_averages(series, 3):
    ...     _ = model.load_state_dict(state, strict=False)
    >>> checkpoint.step
    60
    """
    series = sorted(series, key=lambda c: c.step)
    targets = _select_targets(series, window, 1, steps)
    layouts = {i: read_model_layout(series[i].path) for t in targets for i in range(t - window + 1, t + 1)}
    for target, (sums, copies) in _window_states(series, layouts, window, targets):
        yield series[target], {
            name: copies[name] if name in copies else finish(sums[name], window, torch_dtype(info.dtype))
            for name, info in layouts[target].tensors.items()
        }


def _window_states(
    series: list[Checkpoint],
    layouts: dict[int, Layout],
    window: int,
    targets: list[int],
    resum_every: int = RESUM_EVERY,
) -> Iterator[tuple[int, WindowState]]:
    """The running-sum core: for each target index, the window sums after reading only what changed."""
    sums: dict[str, torch.Tensor] = {}
    for update in plan_updates(len(series), window, targets, resum_every):
        newest = update.target
        for i in range(newest - window + 1, newest):
            compare_layouts(layouts[newest], series[newest].name, layouts[i], series[i].name)
        copies: dict[str, torch.Tensor] = {}
        with ExitStack() as stack:
            readers = {
                i: stack.enter_context(open_weights(series[i].name, series[i].path, layouts[i])) for i in update.members
            }
            for name, info in layouts[newest].tensors.items():
                if not is_averaged(torch_dtype(info.dtype)):
                    copies[name] = readers[newest].get(name)
                    continue
                added = [readers[i].get(name, check_finite=False) for i in update.added]
                if update.fresh:
                    sums[name], finite = fresh_sum(added)
                else:
                    removed = [readers[i].get(name, check_finite=False) for i in update.removed]  # checked when added
                    finite = slide(sums[name], added, removed)
                if not finite:
                    _name_the_non_finite([readers[i] for i in update.added], name)
        yield newest, (sums, copies)


def _output_files(layout: Layout, state: WindowState, window: int, dtype: torch.dtype | None) -> list[OutputFile]:
    """The averaged weight files in the input's layout; each mean is computed block by block as it is written."""
    sums, copies = state

    def tensors(file: str) -> Iterator[tuple[str, torch.Tensor | Fill]]:
        for name, info in layout.tensors.items():
            if info.file == file:
                if name in copies:
                    yield name, copies[name]
                else:
                    yield name, partial(quotient_to, sums[name], window, output_dtype(info, dtype))

    return [OutputFile(file, output_specs(layout, file, dtype), tensors(file)) for file in layout.files()]


def _streamed_means(
    layout: Layout, file: str, readers: list[WeightReader], dtype: torch.dtype | None
) -> Iterator[tuple[str, torch.Tensor | Fill]]:
    """One file's tensors averaged over ``readers``, each computed block by block as it is written (no sums kept)."""
    for name, info in layout.tensors.items():
        if info.file != file:
            continue
        if is_averaged(torch_dtype(info.dtype)):
            yield name, partial(_write_mean, readers, name, output_dtype(info, dtype))
        else:
            yield name, readers[-1].get(name)


def _write_mean(readers: list[WeightReader], name: str, dtype: torch.dtype, sink: Sink) -> None:
    if not mean_to([r.get(name, check_finite=False) for r in readers], dtype, sink):
        _name_the_non_finite(readers, name)


def _name_the_non_finite(readers: list[WeightReader], name: str) -> None:
    """Raise the one-line error naming the checkpoint whose tensor ``name`` holds NaN or Inf.

    Called when a float64 sum came out non-finite, which finite float32 inputs cannot cause;
    reading each input again with the check finds the culprit.
    """
    for reader in readers:
        reader.get(name)


class _TensorCounter:
    """Reports tensors written so far: a tensor is written when the writer asks for the next one."""

    def __init__(self, total: int, progress: Progress | None):
        self.done, self.total, self.progress = 0, total, progress

    def counted(self, tensors: Iterator[tuple[str, torch.Tensor | Fill]]) -> Iterator[tuple[str, torch.Tensor | Fill]]:
        for item in tensors:
            self.report()
            yield item
            self.done += 1

    def report(self) -> None:
        report_progress(self.progress, self.done, self.total)


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


def _select_targets(series: list[Checkpoint], window: int, stride: int, steps: Iterable[int] | None) -> list[int]:
    if window < 1 or stride < 1:
        raise CkptlensError(f"--window and --stride must be at least 1 (got window={window}, stride={stride})")
    if len(series) < window:
        raise CkptlensError(f"a window of {window} needs at least {window} checkpoints; the series has {len(series)}")
    targets = [t for t in range(window - 1, len(series), stride) if window_is_whole(series, t, window)]
    if steps is None:
        return targets
    by_step = {series[t].step: t for t in targets}
    wanted = sorted(set(steps))
    unknown = [s for s in wanted if s not in by_step]
    if unknown:
        raise CkptlensError(
            f"no window of {window} (stride {stride}) ends at step {unknown[0]}; possible steps: {sorted(by_step)[:10]}"
        )
    return [by_step[s] for s in wanted]


def check_out_dir(out_dir: Path, series: list[Checkpoint]) -> None:
    if any(out_dir.resolve() == c.path.parent.resolve() for c in series):
        raise CkptlensError(f"{out_dir} holds the series itself; write averages to another folder")
    if out_dir.exists() and not out_dir.is_dir():
        raise CkptlensError(f"--out {out_dir} is a file; name a folder for the averaged checkpoints")
    with refused_writes(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)


def _resumed_entries(out_dir: Path, series: list[Checkpoint], window: int, targets: list[int]) -> dict[int, dict]:
    manifest = read_manifest(out_dir)
    if manifest is not None and (manifest.get("method"), manifest.get("window")) != ("average", window):
        raise CkptlensError(
            f"{out_dir} holds {manifest.get('method')} outputs with window {manifest.get('window')}, "
            f"not averages with window {window}; choose another output folder"
        )
    return {t: _manifest_entry(series, t, window) for t in targets if (out_dir / series[t].name).is_dir()}


def _manifest_entry(series: list[Checkpoint], target: int, window: int) -> dict:
    members = [c.name for c in series[target - window + 1 : target + 1]]
    return {"step": series[target].step, "tokens_seen": series[target].tokens_seen, "members": members}


def _manifest(series: list[Checkpoint], window: int, entries: dict[int, dict], source: str | None) -> dict:
    return {
        "method": "average",
        "window": window,
        "source": source or series_id(series[0].path.parent),
        "checkpoints": [entries[t] for t in sorted(entries)],
    }


def _as_checkpoint(path: Path, position: int) -> Checkpoint:
    step = parse_step(path.name)
    return Checkpoint(path.name, path, position if step is None else step)


def report_progress(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)
