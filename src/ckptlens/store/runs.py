"""What the store knows about a run (``runs/<run>.json``), typed: where it came from, its size, its base run.

A run is a *base run* unless its series was averaged from another series (``averaged_from``, with the
``window``); an averaged run is linked to the base run whose ``series`` it was averaged from. Every
analysis that compares raw checkpoints with averaged ones asks ``base_runs`` / ``averaged_runs`` here.

>>> info = RunInfo.from_dict({"run": "avg4", "series": "/s#average-window=4", "averaged_from": "/s", "window": 4})
>>> info.is_base, info.window
(False, 4)
>>> base = RunInfo.from_dict({"run": "raw", "series": "/s", "n_params": 160_000_000, "note": "kept"})
>>> base_runs([info, base]), averaged_runs([info, base]), base.extra
(['raw'], {('raw', 4): 'avg4'}, {'note': 'kept'})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ckptlens.errors import CkptlensError


@dataclass(frozen=True)
class RunInfo:
    """One run's description; keys ckptlens does not know yet stay in ``extra`` and are written back as they were."""

    run: str
    series: str | None = None  # the series folder, or hf:// repo (None for imports)
    averaged_from: str | None = None  # for an averaged run: the series it was averaged from
    window: int | None = None  # checkpoints per average (averaged runs)
    n_params: int | None = None  # model size (--size, the manifest, or the importer's count)
    tokens_per_step: int | None = None  # tokens seen per training step, when known (Pythia imports)
    checkpoints: tuple[str, ...] = ()  # names of the evaluated checkpoints
    loss_curve: tuple[dict, ...] = ()  # {step, tokens_seen, train_loss, val_loss} from the pretraining run
    source: str | None = None  # the importer for imported runs: lm-eval, llm-jp-eval
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_base(self) -> bool:
        """Whether the run evaluates checkpoints as trained (not averaged ones)."""
        return not self.averaged_from

    @classmethod
    def from_dict(cls, info: Mapping[str, Any]) -> RunInfo:
        """The typed form of a run's JSON object; a value of the wrong type is an error naming the key."""
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in info.items() if k in known}
        try:
            for key in ("window", "n_params", "tokens_per_step"):
                if values.get(key) is not None:
                    values[key] = int(values[key])
            values["checkpoints"] = tuple(str(c) for c in values.get("checkpoints") or ())
            values["loss_curve"] = tuple(dict(row) for row in values.get("loss_curve") or ())
        except (TypeError, ValueError) as error:
            raise CkptlensError(f"run {info.get('run')!r}: its description has a malformed value ({error}); "
                                "repair runs/<run>.json or evaluate the run again") from None
        return cls(**values, extra={k: v for k, v in info.items() if k not in known})

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``Store.write_run_info`` writes: set fields and ``extra``, empty ones left out."""
        plain = {k: v for k, v in asdict(self).items() if k != "extra" and v not in (None, ())}
        for key in ("checkpoints", "loss_curve"):
            if key in plain:
                plain[key] = list(plain[key])
        return {**plain, **self.extra}


def base_runs(infos: Iterable[RunInfo]) -> list[str]:
    """The runs that are not averages, sorted."""
    return sorted(i.run for i in infos if i.is_base)


def averaged_runs(infos: Iterable[RunInfo]) -> dict[tuple[str, int], str]:
    """(base run, window) -> averaged run, linked through the series the average was made from."""
    infos = list(infos)
    series_to_run = {i.series: i.run for i in infos if i.series and i.is_base}
    linked = {}
    for info in infos:
        base = series_to_run.get(info.averaged_from)
        if base is not None and info.window is not None:
            linked[(base, info.window)] = info.run
    return linked
