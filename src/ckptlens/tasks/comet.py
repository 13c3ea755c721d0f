"""COMET (``Unbabel/wmt22-comet-da``), llm-jp-eval's MT metric: found on this machine, loaded once, scored in
batches. ckptlens never downloads the model.

COMET is used when both are there: the package ``unbabel-comet`` (``pip install 'ckptlens[comet]'``) and the
model's checkpoint, looked for in this order:

1. ``--comet-model PATH`` (the ``comet_model`` argument), else ``$CKPTLENS_COMET_MODEL``. PATH is the model's
   folder (holding ``checkpoints/model.ckpt``, as ``comet.download_model`` leaves it), that ``model.ckpt`` itself,
   or a Hugging Face cache folder holding the model (what llm-jp-eval or ``download_model`` was given as its
   saving directory). A PATH that holds none of them is an error.
2. The Hugging Face cache (``$HF_HUB_CACHE``, by default ``~/.cache/huggingface/hub``), where a plain
   ``comet.download_model("Unbabel/wmt22-comet-da")`` puts it.

Otherwise MT falls back to BLEU, with one line saying which of the two is missing (:func:`locate_comet`).
The model's encoder tokenizer (``xlm-roberta-large``) is read from the local cache too, where ``download_model``
plus one ``load_from_checkpoint`` left it.

Each example is scored as llm-jp-eval scores it: ``{"src": the sample's input, "mt": the prediction, "ref": the
gold}`` (prediction and gold as llm-jp-eval normalises them), one ``predict`` call per dataset, the score being
the segment score (llm-jp-eval's dataset score is their mean, COMET's ``system_score``).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from ckptlens.errors import CkptlensError

COMET = "comet_wmt22"
MODEL_ID = "Unbabel/wmt22-comet-da"
ENV_VARIABLE = "CKPTLENS_COMET_MODEL"
CHECKPOINT = Path("checkpoints") / "model.ckpt"  # inside the model's folder, as comet.download_model returns it
BATCH_SIZE = 16  # COMET's predict default
INSTALL = "pip install 'ckptlens[comet]' (unbabel-comet)"
TOKENIZER_HINT = ("; its encoder's tokenizer (xlm-roberta-large) must be in the Hugging Face cache too: load the "
                  "model once with comet.load_from_checkpoint on a machine online")


@dataclass(frozen=True)
class CometSetup:
    """Where COMET stands on this machine: the checkpoint to load, or one line saying what is missing."""

    checkpoint: str | None
    missing: str = ""


def locate_comet(comet_model: str | Path | None = None) -> CometSetup:
    """The COMET checkpoint to score with, or why there is none (the package, or the model).

    An explicit path (``comet_model``, else ``$CKPTLENS_COMET_MODEL``) that holds no checkpoint is a
    :class:`CkptlensError`: the user asked for that model.
    """
    explicit = comet_model or os.environ.get(ENV_VARIABLE) or None
    checkpoint = explicit_checkpoint(Path(explicit), bool(comet_model)) if explicit else cached_checkpoint()
    problem = package_problem()
    if problem:
        return CometSetup(None, f"the unbabel-comet package is not importable ({problem}): {INSTALL}")
    if checkpoint is None:
        return CometSetup(None, f"the {MODEL_ID} model is not in the Hugging Face cache ({hub_cache()}); "
                                f"download it once with comet.download_model({MODEL_ID!r}) and pass its folder "
                                f"as --comet-model DIR or ${ENV_VARIABLE}")
    return CometSetup(str(checkpoint))


def explicit_checkpoint(path: Path, from_flag: bool = True) -> Path:
    """The ``model.ckpt`` a user's path names: the file, the model's folder, or a Hugging Face cache holding it."""
    found = next((c for c in (path, path / CHECKPOINT) if c.is_file()), None) or cached_checkpoint(path)
    if found is None:
        named = "--comet-model" if from_flag else f"${ENV_VARIABLE}"
        raise CkptlensError(f"{named} {path}: no COMET checkpoint there; give the {MODEL_ID} folder (holding "
                            f"{CHECKPOINT}), that file, or the cache folder comet.download_model saved it to")
    return found


def cached_checkpoint(cache_dir: Path | None = None) -> Path | None:
    """The model's checkpoint in a Hugging Face cache (default: the user's), read without any network."""
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(MODEL_ID, cache_dir=cache_dir, local_files_only=True)
    except (OSError, ValueError):  # not cached (LocalEntryNotFoundError is both)
        return None
    checkpoint = Path(folder) / CHECKPOINT
    return checkpoint if checkpoint.is_file() else None


def hub_cache() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def package_problem() -> str:
    """Why ``import comet`` fails ('' when it works): importing it is what scoring will do."""
    try:
        import_module("comet")
    except Exception as err:  # a broken install (ImportError, clashing versions) is "missing" too
        return f"{err.__class__.__name__}: {err}"
    return ""


class CometScorer:
    """One loaded COMET model; ``scorer(sources, predictions, golds)`` is one ``predict`` over them all."""

    def __init__(self, checkpoint: str) -> None:
        comet = import_module("comet")
        try:
            with quiet_lightning():
                self.model = comet.load_from_checkpoint(checkpoint, local_files_only=True)
        except Exception as err:  # comet raises bare Exceptions (a bad path, no hparams.yaml): all are the user's
            cause = (str(err).splitlines() or [""])[0]
            hint = TOKENIZER_HINT if isinstance(err, OSError) else ""
            raise CkptlensError(f"COMET checkpoint {checkpoint} does not load ({err.__class__.__name__}: {cause})"
                                f"{hint}") from None

    def __call__(self, sources: Sequence[str], predictions: Sequence[str], golds: Sequence[str]) -> list[float]:
        if not predictions:
            return []
        data = [{"src": s, "mt": p, "ref": g} for s, p, g in zip(sources, predictions, golds, strict=True)]
        with quiet_lightning():
            output = self.model.predict(data, batch_size=BATCH_SIZE, gpus=gpus(), progress_bar=False)
        return [float(s) for s in output.scores]


@functools.cache
def comet_scorer(checkpoint: str) -> CometScorer:
    """The scorer of ``checkpoint``, loaded once per process (a command), whatever the checkpoints and examples."""
    return CometScorer(checkpoint)


def gpus() -> int:
    """1 when CUDA is there (COMET then runs on the first GPU), else 0 (CPU)."""
    import torch

    return int(torch.cuda.is_available())


@contextmanager
def quiet_lightning() -> Iterator[None]:
    """Lightning's banner lines ("GPU available: ...") are off while COMET loads and predicts."""
    loggers = [logging.getLogger(name) for name in ("pytorch_lightning", "lightning.pytorch", "lightning")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
