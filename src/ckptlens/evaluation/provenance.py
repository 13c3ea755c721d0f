"""What the store keeps about a run (``runs/<run>.json``): its series, the request that made it, the versions.

Every evaluation rewrites the run's description with the request (``EvalRequest.to_dict``),
the library versions (ckptlens, torch, transformers, lm-eval) and a fingerprint per
checkpoint of a local series, so every record can be traced to how it was made. Before
anything is written, ``open_run`` refuses what would mix incompatible records under one
run name: a request that differs in a field defining results (``request.RESULT_FIELDS``),
a task whose prompts changed (unless ``--reevaluate``), another series (unless
``--relink`` and the checkpoints' fingerprints match: the same run, moved).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from ckptlens.checkpoints import Checkpoint, is_hub_spec, series_id
from ckptlens.checkpoints.fingerprint import fingerprint
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.request import REPRESENTATION_DEFAULTS, RESULT_FIELDS, EvalRequest, differing_fields
from ckptlens.evaluation.rows import prompt_hash
from ckptlens.store import Store, prompt_changes
from ckptlens.store.representations import remove_states
from ckptlens.tasks.resolve import manifest_source, series_manifest
from ckptlens.tasks.task import Task

LIBRARIES = ("ckptlens", "torch", "transformers", "lm-eval")


def library_versions() -> dict[str, str | None]:
    """The installed version of each library that shapes the records (None: not installed)."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def open_run(store: Store, run: str, tasks: Sequence[Task], info: dict, request: EvalRequest | None = None) -> None:
    """Record ``run`` in the store, once its stored records are known to come from the same request and prompts.

    A task edited since its records were stored is an error naming it (mixing old and new
    prompts would read as instability), unless ``request.reevaluate``: then the units holding
    other prompts are removed, and the evaluation that follows redoes exactly those.
    """
    stored = store.run_info(run)
    if request is not None:
        _check_same_request(run, stored.get("request"), request)
        info = {**info, "request": request.to_dict(), "versions": library_versions()}
        if request.relink:
            relink(store, run, stored, info)
            stored = store.run_info(run)
    _check_same_series(run, stored, info)
    reevaluate = request is not None and request.reevaluate
    changes = [c for t in tasks if (c := prompt_changes(store, run, t.name, task_hashes(t))) is not None]
    if changes and not reevaluate:
        raise CkptlensError(
            f"{changes[0].describe()}: the task changed since it was evaluated; pass --reevaluate to re-evaluate "
            f"and replace its {len(changes[0].checkpoints)} stored unit(s), or give the edited task a new name"
        )
    fingerprints = {**stored.get("fingerprints", {}), **info.get("fingerprints", {})}  # watch adds checkpoints
    store.write_run_info(run, {**info, "fingerprints": fingerprints} if fingerprints else info)
    for change in changes:
        for checkpoint in change.checkpoints:
            store.remove_unit(run, checkpoint, change.task)
            remove_states(store, run, change.task, checkpoint)


def relink(store: Store, run: str, stored: dict, info: dict) -> None:
    """Point ``run`` at ``info``'s series when every checkpoint it recorded has the same fingerprint there."""
    recorded, found = stored.get("fingerprints"), info.get("fingerprints", {})
    if "series" not in stored:
        raise CkptlensError(f"--relink: run {run!r} is not in this store yet; evaluate it without --relink")
    if not recorded:
        raise CkptlensError(f"--relink: run {run!r} recorded no checkpoint fingerprints (evaluated before they were "
                            "kept, or from the Hub); evaluate the moved series under a new --run")
    for name, value in recorded.items():
        if found.get(name) != value:
            what = "is missing" if name not in found else "differs"
            raise CkptlensError(f"--relink: checkpoint {name} of run {run!r} {what} in {info['series']}; "
                                "not re-linked: is this the same series?")
    if stored["series"] != info["series"]:
        store.relink_run(run, info["series"])


def task_hashes(task: Task) -> dict[str, str]:
    """Example id -> prompt hash, as the records of ``task`` store them."""
    return {e.id: prompt_hash(e.context) for e in task.examples}


def source_info(series: str | Path, checkpoints: list[Checkpoint], window: int | None) -> dict:
    """``run_info`` for a folder, the bare series id for a Hub repo; in-memory averages link to their base."""
    info = {"series": series_id(series), "checkpoints": [c.name for c in checkpoints]}
    if not is_hub_spec(series):
        info = run_info(Path(series), checkpoints)
        if not window:
            info["fingerprints"] = {c.name: fingerprint(c.path) for c in checkpoints}
    if window:
        base = series_id(series)
        info = {**info, "series": f"{base}#average-window={window}", "averaged_from": base, "window": window}
    return info


def run_info(series_dir: Path, checkpoints: list[Checkpoint]) -> dict:
    """What the store keeps about a run: where it came from, and its training curve when known."""
    manifest = series_manifest(series_dir)
    info = {"series": str(series_dir.resolve()), "checkpoints": [c.name for c in checkpoints]}
    if manifest.get("method") == "average":
        source = manifest_source(series_dir)
        info["averaged_from"] = manifest["source"] if source is None else str(source)  # a local folder or hf://
        info["window"] = int(manifest["window"])
    for key in ("n_params", "seed"):
        if key in manifest:
            info[key] = manifest[key]
    curve = [
        {k: row.get(k) for k in ("step", "tokens_seen", "train_loss", "val_loss")}
        for row in manifest.get("checkpoints", [])
        if "val_loss" in row or "train_loss" in row
    ]
    if curve:
        info["loss_curve"] = curve
    return info


def _check_same_request(run: str, stored: dict | None, request: EvalRequest) -> None:
    """Refuse a request whose results-defining fields differ from the one the run was evaluated with."""
    fields = differing_fields(stored or {}, request.to_dict())
    if fields:
        was = ", ".join(f"{f}={stored.get(f, REPRESENTATION_DEFAULTS.get(f))!r}" for f in fields)
        now = ", ".join(f"{f}={getattr(request, f)!r}" for f in fields)
        raise CkptlensError(f"run {run!r} was evaluated with {was}; this request has {now} (fields that define "
                            f"results: {', '.join(RESULT_FIELDS)}); use the same settings or another --run")


def _check_same_series(run: str, stored: dict, info: dict) -> None:
    """Another series under a used run name: the store's own refusal, with how to re-point a moved series."""
    if "series" in stored and stored["series"] != info["series"] and "averaged_from" not in info:
        raise CkptlensError(f"run {run!r} is already series {stored['series']!r} in this store, not "
                            f"{info['series']!r}; give this series another --run name, or pass --relink if the "
                            "series folder moved")
