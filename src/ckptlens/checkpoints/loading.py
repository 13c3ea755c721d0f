"""Open one checkpoint folder as an eval-mode model and its tokenizer.

Safetensors is the default because it cannot run code; pickled ``.bin`` weights
are refused unless the caller trusts the folder (``allow_pickle=True``), and even
then they are read with ``weights_only``. Any disagreement between config and
weights (missing or mis-shaped tensors) is an error, never a silently
re-initialised layer: a half-random model would look like instability.

>>> model, tokenizer = load_model("runs/demo/step000100")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from ckptlens.errors import CkptlensError

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
SAFETENSORS_FILES = ("model.safetensors", "model.safetensors.index.json")
PICKLE_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json")


def load_model(
    path: str | Path,
    device: str | torch.device | None = None,
    dtype: str = "float32",
    allow_pickle: bool = False,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a Hugging Face causal LM folder in eval mode, plus its tokenizer.

    ``device`` None means CUDA when available, else CPU. ``dtype`` is one of
    ``float32``, ``float16`` or ``bfloat16``.

    >>> model, tokenizer = load_model("runs/demo/step000100", dtype="bfloat16")  # doctest: +SKIP
    >>> model.training  # doctest: +SKIP
    False
    """
    path = Path(path)
    torch_dtype = resolve_dtype(dtype)
    use_safetensors = _weights_format(path, allow_pickle)
    _silence_transformers()
    model = _load_weights(path, torch_dtype, use_safetensors)
    _check_finite(model, path)
    model.to(resolve_device(device)).eval()
    return model, load_tokenizer(path)


def resolve_dtype(name: str) -> torch.dtype:
    """The torch dtype named ``name``; an unknown name is a CkptlensError listing the valid ones."""
    if name not in DTYPES:
        raise CkptlensError(f"unknown dtype {name!r}: use one of {', '.join(DTYPES)}")
    return DTYPES[name]


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a torch.device; None picks CUDA when available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _weights_format(path: Path, allow_pickle: bool) -> bool:
    """True for safetensors weights, False for trusted pickle weights; anything else is an error."""
    if not path.is_dir():
        raise CkptlensError(f"checkpoint folder not found: {path}")
    if any((path / name).is_file() for name in SAFETENSORS_FILES):
        return True
    if any((path / name).is_file() for name in PICKLE_FILES):
        if not allow_pickle:
            raise CkptlensError(
                f"{path} holds pickle weights (pytorch_model.bin), which can run code when loaded; "
                "convert them to safetensors, or pass allow_pickle=True (--allow-pickle) "
                "if you trust the folder"
            )
        return False
    raise CkptlensError(f"no weights in {path}: expected model.safetensors or model.safetensors.index.json")


def _load_weights(path: Path, dtype: torch.dtype, use_safetensors: bool) -> PreTrainedModel:
    try:
        model, info = AutoModelForCausalLM.from_pretrained(
            path,
            dtype=dtype,
            use_safetensors=use_safetensors,
            weights_only=True,
            ignore_mismatched_sizes=True,
            output_loading_info=True,
        )
    except (OSError, ValueError, RuntimeError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CkptlensError(f"cannot load the model in {path}: {first_line}") from None
    _check_weights_match_config(path, info)
    return model


def _check_weights_match_config(path: Path, info: dict) -> None:
    """Refuse a model whose config and weights disagree (transformers would re-initialise the gaps)."""
    mismatched = sorted(str(key[0] if isinstance(key, tuple) else key) for key in info.get("mismatched_keys", ()))
    missing = sorted(info.get("missing_keys", ()))
    if mismatched:
        raise CkptlensError(
            f"config and weights disagree in {path}: {len(mismatched)} tensors have other shapes "
            f"(first: {mismatched[0]}); use the config.json the weights were saved with"
        )
    if missing:
        raise CkptlensError(
            f"config and weights disagree in {path}: {len(missing)} tensors missing from the weights "
            f"(first: {missing[0]}); use the config.json the weights were saved with"
        )


def _check_finite(model: PreTrainedModel, path: Path) -> None:
    """Refuse weights holding NaN or inf: such a model's scores are not a measurement (one pass, no copy)."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CkptlensError(f"checkpoint {path}: tensor {name} holds NaN or inf; fix or remove the checkpoint")


def load_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as err:
        raise CkptlensError(
            f"no usable tokenizer in {path} ({type(err).__name__}); save it beside the weights "
            "with tokenizer.save_pretrained(folder)"
        ) from None


def _silence_transformers() -> None:
    """No progress bars or load reports: ckptlens shows its own progress, one line per unit."""
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
