"""Open one checkpoint folder as an eval-mode model and its tokenizer.

Safetensors is the default because it cannot run code; pickled ``.bin`` weights
are refused unless the caller trusts the folder (``allow_pickle=True``), and even
then they are read with ``weights_only``. Any disagreement between config and
weights (missing or mis-shaped tensors) is an error, never a silently
re-initialised layer: a half-random model would look like instability.

>>> model, tokenizer = load_model("runs/demo/step000060", device="cpu")
>>> type(model).__name__
'LlamaForCausalLM'
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import torch
import transformers
from safetensors import SafetensorError
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from ckptlens.checkpoints.weights import all_finite, read_layout
from ckptlens.errors import CkptlensError
from ckptlens.files import read_json

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

    >>> model, tokenizer = load_model("runs/demo/step000060", device="cpu", dtype="bfloat16")
    >>> model.training, next(model.parameters()).dtype
    (False, torch.bfloat16)
    """
    path = Path(path)
    torch_dtype = resolve_dtype(dtype)
    use_safetensors = _weights_format(path, allow_pickle)
    if use_safetensors:
        read_layout(path)  # a truncated file or a header that lies is one line here, not deep in transformers
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
    """``device`` as a torch.device; None picks CUDA when available, else CPU.

    A device this machine does not have is an error now, not a failure deep inside the first forward pass.

    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("gpu")
    Traceback (most recent call last):
    ckptlens.errors.CkptlensError: --device 'gpu' is not a device: use cpu, cuda, cuda:1, mps ...
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError):
        raise CkptlensError(f"--device {device!r} is not a device: use cpu, cuda, cuda:1, mps ...") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise CkptlensError(f"--device {device}: this machine has no CUDA device that torch can use; use --device cpu")
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise CkptlensError(f"--device {device}: there are only {torch.cuda.device_count()} CUDA devices")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise CkptlensError(f"--device {device}: MPS is not available on this machine; use --device cpu")
    return resolved


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
        with warnings.catch_warnings():  # torch's notes on pickle protocols say nothing a user can act on
            warnings.filterwarnings("ignore", message=".*pickle protocol")
            model, info = AutoModelForCausalLM.from_pretrained(
                path,
                dtype=dtype,
                use_safetensors=use_safetensors,
                weights_only=True,
                ignore_mismatched_sizes=True,
                output_loading_info=True,
            )
    except (EOFError, pickle.UnpicklingError) as err:
        raise CkptlensError(f"the pickle weights in {path} cannot be read ({_first_sentence(err)}); "
                            "copy the checkpoint again") from None
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as err:
        raise CkptlensError(f"cannot load the model in {path}: {_first_sentence(err)}") from None
    _check_weights_match_config(path, info)
    return model


def _first_sentence(err: BaseException) -> str:
    """The first sentence of an error from transformers or torch, whose messages run to paragraphs."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text.split(". ")[0].removesuffix(".")


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
    """Refuse weights holding NaN or inf: such a model's scores are not a measurement (a sum per tensor, no mask)."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not all_finite(tensor):
            raise CkptlensError(f"checkpoint {path}: tensor {name} holds NaN or inf; fix or remove the checkpoint")


SAVE_AGAIN = "repair it, or save the model again with save_pretrained"


def load_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    """The tokenizer saved in ``path``; transformers reads ``config.json`` for it, so a broken one is named first."""
    config = Path(path) / "config.json"
    if config.is_file() and not isinstance(read_json(config, SAVE_AGAIN), dict):
        raise CkptlensError(f"{config} is not a model config (a JSON object); {SAVE_AGAIN}")
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
