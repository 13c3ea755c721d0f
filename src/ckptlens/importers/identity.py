"""Which run and checkpoint an lm-eval output belongs to: model name, revision, step, tokens, size.

lm-eval does not put the revision in its output path, so it is read from the
results JSON (``model_args``' ``revision=``, ``model_revision``) or, failing
that, from the file path with a user regex (``--step-from``).

>>> model_args_dict("pretrained=EleutherAI/pythia-v1.1-410m,revision=step123000")["revision"]
'step123000'
>>> default_run_name("EleutherAI/pythia-v1.1-410m"), default_run_name("/ckpts/run7/checkpoint-500")
('pythia-410m', 'run7')
>>> nominal_params("EleutherAI/pythia-1.4b-deduped"), nominal_params("gpt2")
(1400000000, None)
"""

from __future__ import annotations

import re
from pathlib import PurePath

from ckptlens.checkpoints.series import parse_step, parse_tokens
from ckptlens.errors import CkptlensError

# lm-eval's own precedence when it names a model from its arguments (adapters before base models).
MODEL_ARG_KEYS = ("peft", "delta", "pretrained", "model", "path", "engine")
# Pythia's re-run suite is published as pythia-v1.1-<size>; users call it pythia-<size>.
PYTHIA_VERSION = re.compile(r"^pythia-v\d+(?:\.\d+)*-", re.IGNORECASE)
# Every Pythia step is 1024 sequences of 2048 tokens (Biderman et al., 2023).
PYTHIA_TOKENS_PER_STEP = 2_097_152
# Model sizes as names spell them: 410m, 1.4b, 6.9B, 12b.
SIZE_IN_NAME = re.compile(r"(?:^|[-_/])(\d+(?:\.\d+)?)([mb])(?:$|[-_/])", re.IGNORECASE)
SIZE_UNITS = {"m": 10**6, "b": 10**9}


def model_args_dict(model_args: str | dict | None) -> dict:
    """lm-eval's ``model_args`` (``"k=v,k=v"`` or a dict) as a dict of strings."""
    if isinstance(model_args, dict):
        return {str(k): str(v) for k, v in model_args.items()}
    pairs = (part.split("=", 1) for part in (model_args or "").split(",") if "=" in part)
    return {key.strip(): value.strip() for key, value in pairs}


def model_name(args: dict, declared: str | None) -> str | None:
    """The model a results file evaluated: lm-eval's ``model_name`` if written, else from its arguments."""
    if declared:
        return declared
    return next((args[key] for key in MODEL_ARG_KEYS if args.get(key)), None)


def default_run_name(model: str) -> str:
    """A run name from a model name: the repo or folder name; a checkpoint folder names its parent.

    Several checkpoints of one local run (``run7/checkpoint-500``, ``run7/checkpoint-1000``) must land in one run.
    """
    path = PurePath(model.rstrip("/"))
    name = path.parent.name if parse_step(path.name) is not None and path.parent.name else path.name
    return PYTHIA_VERSION.sub("pythia-", name)


def step_of(revisions: list[str | None], path: str, step_from: re.Pattern | None) -> tuple[str, int]:
    """(checkpoint name, step) from the first revision that names a step, else ``--step-from`` on the path."""
    for revision in revisions:
        if revision and parse_step(revision) is not None:
            return revision, parse_step(revision)
    if step_from is not None:
        match = step_from.search(path)
        if match and match.groups() and match.group(1) and match.group(1).isdigit():
            return f"step{int(match.group(1))}", int(match.group(1))
    raise CkptlensError(
        f"no training step for {path}: its model_args/model_revision name none; "
        "pass --step-from REGEX whose first group is the step in the file path, e.g. --step-from 'step(\\d+)'"
    )


def tokens_seen(revision: str, step: int, model: str | None) -> int | None:
    """Tokens seen when the revision names them (OLMo ``tokens4B``), or known for the suite (Pythia)."""
    tokens = parse_tokens(revision)
    if tokens is None and model and "pythia" in model.lower():
        return step * PYTHIA_TOKENS_PER_STEP
    return tokens


def nominal_params(model: str | None) -> int | None:
    """The size a model's name states (pythia-410m -> 410,000,000), or None."""
    match = SIZE_IN_NAME.search(PurePath(model).name) if model else None
    return None if match is None else round(float(match.group(1)) * SIZE_UNITS[match.group(2).lower()])
