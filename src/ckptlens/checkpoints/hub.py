"""Checkpoint series kept as revisions (branches) of one Hugging Face Hub repository.

Pythia names its branches ``step1000``, LLM360 Amber ``ckpt_100`` and OLMo
``stage1-step1000-tokens4B``; each such branch is one checkpoint. Online, the
branches come from ``list_repo_refs``; offline (``HF_HUB_OFFLINE=1``) they come
from the local HF cache (``models--org--name/refs/<branch>`` holds the commit,
``snapshots/<commit>/`` the files), so a cached series works on a machine with
no network. A checkpoint's path is always its snapshot folder in that cache.

>>> parse_revision("stage1-step1000-tokens4B")
(1000, 4000000000)
>>> parse_revision("ckpt_100"), parse_revision("main")
((100, None), None)
"""

from __future__ import annotations

import importlib
import os
import warnings
from pathlib import Path

import huggingface_hub  # lazy: its API and HTTP client load on first use, not with the CLI
from huggingface_hub import constants

from ckptlens.checkpoints.series import Checkpoint, parse_step, parse_tokens
from ckptlens.errors import CkptlensError

HUB_PREFIX = "hf://"
# What a checkpoint needs to be evaluated or averaged; optimizer states are never fetched, pickles only when allowed.
DOWNLOAD_PATTERNS = ("*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken")
PICKLE_PATTERNS = ("pytorch_model*.bin",)


def is_hub_spec(spec: str | Path) -> bool:
    """Whether ``spec`` names a Hub repository (``hf://org/name``) rather than a local folder."""
    return isinstance(spec, str) and spec.startswith(HUB_PREFIX)


def repo_id_of(spec: str) -> str:
    """``org/name`` from ``hf://org/name``; anything else is a one-line error."""
    repo_id = spec.removeprefix(HUB_PREFIX).strip("/")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise CkptlensError(f"{spec!r} is not a Hub series; write it as hf://org/name, e.g. hf://EleutherAI/pythia-70m")
    return repo_id


def parse_revision(name: str) -> tuple[int, int | None] | None:
    """``(step, tokens_seen)`` a branch name encodes, or None for a branch that is no checkpoint."""
    step = parse_step(name)
    if step is None:
        return None
    return step, parse_tokens(name)


def list_hub_series(spec: str) -> list[Checkpoint]:
    """Every step branch of the repository, sorted by step; from the cache when offline.

    The paths are snapshot folders of the local HF cache; online they may not
    exist yet: ``download_checkpoints`` fetches the ones a command keeps.

    ``list_hub_series("hf://EleutherAI/pythia-70m")[:2]`` gives ``[Checkpoint(name='step0', ...),
    Checkpoint(name='step1', ...)]`` (``tests/checkpoints/test_hub.py`` reads a local HF cache laid out as
    the Hub's). A spec that is not ``hf://org/name`` is refused before any network call:

    >>> list_hub_series("hf://pythia-70m")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ckptlens.errors.CkptlensError: ...
    """
    repo_id = repo_id_of(spec)
    branches = _cached_branches(repo_id) if _offline() else _online_branches(repo_id)
    found = []
    for name, commit in branches.items():
        parsed = parse_revision(name)
        if parsed is not None:
            found.append(Checkpoint(name, _repo_cache(repo_id) / "snapshots" / commit, *parsed))
    if not found:
        raise CkptlensError(
            f"no step revisions in {repo_id}{' (local cache)' if _offline() else ''}: expected branches named like "
            "step1000, ckpt_100 or stage1-step1000-tokens4B"
        )
    return _unique_steps(found, repo_id)


def download_checkpoints(spec: str, checkpoints: list[Checkpoint], allow_pickle: bool = False) -> None:
    """Fetch the snapshot of each checkpoint not in the cache: config, tokenizer, safetensors weights.

    ``allow_pickle`` also fetches ``pytorch_model*.bin`` (older revisions have no safetensors).
    """
    repo_id = repo_id_of(spec)
    for checkpoint in checkpoints:
        if (checkpoint.path / "config.json").is_file():
            continue
        if _offline():
            raise CkptlensError(
                f"revision {checkpoint.name} of {repo_id} is not in the local HF cache; "
                "download it while online or unset HF_HUB_OFFLINE"
            )
        try:
            huggingface_hub.snapshot_download(
                repo_id,
                revision=checkpoint.path.name,
                cache_dir=_cache_dir(),
                allow_patterns=list(DOWNLOAD_PATTERNS + (PICKLE_PATTERNS if allow_pickle else ())),
            )
        except _network_errors() as error:
            raise CkptlensError(
                f"cannot download revision {checkpoint.name} of {repo_id} ({type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''}); connect, or drop it with --steps"
            ) from None


def _online_branches(repo_id: str) -> dict[str, str]:
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        refs = huggingface_hub.list_repo_refs(repo_id)
    except RepositoryNotFoundError:
        raise CkptlensError(f"no repository {repo_id} on the Hugging Face Hub; check the name") from None
    except _network_errors() as error:
        if not (_repo_cache(repo_id) / "refs").is_dir():
            raise CkptlensError(
                f"cannot reach the Hugging Face Hub to list the revisions of {repo_id} ({type(error).__name__}) "
                "and it is not in the local HF cache; connect, or set HF_HUB_OFFLINE=1 to use a cache you copied"
            ) from None
        warnings.warn(
            f"cannot reach the Hugging Face Hub ({type(error).__name__}); using the revisions of {repo_id} in the "
            "local HF cache (set HF_HUB_OFFLINE=1 to skip the Hub)", stacklevel=2,
        )
        return _cached_branches(repo_id)
    return {branch.name: branch.target_commit for branch in refs.branches}


def _network_errors() -> tuple[type[BaseException], ...]:
    """What huggingface_hub raises when the Hub cannot be reached: its own errors, and its HTTP client's
    transport errors (``httpx`` or a fork of it, or ``requests`` in older versions), whichever is installed."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    errors: list[type[BaseException]] = [OfflineModeIsEnabled, HfHubHTTPError, OSError]
    for module, name in (("httpx2", "HTTPError"), ("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


def _cached_branches(repo_id: str) -> dict[str, str]:
    """Branch -> commit from ``refs/``, keeping only those whose snapshot holds a config.json."""
    refs = _repo_cache(repo_id) / "refs"
    if not refs.is_dir():
        raise CkptlensError(
            f"{repo_id} is not in the local HF cache ({_cache_dir()}); download it while online or unset HF_HUB_OFFLINE"
        )
    branches, missing = {}, []
    for ref in sorted(p for p in refs.iterdir() if p.is_file()):
        commit = ref.read_text().strip()
        if (_repo_cache(repo_id) / "snapshots" / commit / "config.json").is_file():
            branches[ref.name] = commit
        elif parse_revision(ref.name) is not None:
            missing.append(ref.name)
    if missing:
        warnings.warn(
            f"{len(missing)} revision(s) of {repo_id} have no snapshot with a config.json in the local HF cache "
            f"and are left out: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}", stacklevel=2,
        )
    return branches


def _unique_steps(found: list[Checkpoint], repo_id: str) -> list[Checkpoint]:
    """The checkpoints by step; two branches for one step (OLMo re-publishes steps per stage) are an error."""
    by_step: dict[int, Checkpoint] = {}
    for checkpoint in sorted(found, key=lambda c: c.name):
        if checkpoint.step in by_step:
            raise CkptlensError(
                f"revisions {by_step[checkpoint.step].name} and {checkpoint.name} of {repo_id} share step "
                f"{checkpoint.step}; keep one per step, e.g. copy one stage into a local series folder"
            )
        by_step[checkpoint.step] = checkpoint
    return sorted(by_step.values(), key=lambda c: c.step)


def _repo_cache(repo_id: str) -> Path:
    return _cache_dir() / f"models--{repo_id.replace('/', '--')}"


def _cache_dir() -> Path:
    """HF_HUB_CACHE read now (not at import), so tests and users can point it elsewhere."""
    return Path(os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE).expanduser()


def _offline() -> bool:
    """HF_HUB_OFFLINE read now, like huggingface_hub reads it at import."""
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"} or constants.HF_HUB_OFFLINE
