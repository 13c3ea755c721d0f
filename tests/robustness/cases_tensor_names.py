"""One tensor stored under two names that transformers loads as one, for every architecture the engine covers.

transformers maps a checkpoint's names onto its model (Pythia's ``embed_out``, names without the base model
prefix); a file holding both spellings of one tensor is ambiguous, and averaging, drift and interpolation refuse
it in one line naming both (``tests/checkpoints/test_tensor_names.py`` shows the valid variants combine).
"""

from __future__ import annotations

from safetensors.torch import load_file, save_file

DUPLICATED = {  # architecture: (the model's name, a second name transformers also loads as it)
    "gpt_neox": ("embed_out.weight", "lm_head.weight"),  # save_pretrained writes Pythia's embed_out
    "gpt2": ("transformer.h.0.ln_1.weight", "h.0.ln_1.weight"),
    "qwen2": ("model.norm.weight", "norm.weight"),
    "opt": ("model.decoder.embed_tokens.weight", "decoder.embed_tokens.weight"),
    "gemma": ("model.layers.0.input_layernorm.weight", "layers.0.input_layernorm.weight"),
    "llama": ("model.layers.1.mlp.up_proj.weight", "layers.1.mlp.up_proj.weight"),
}


def series_with_a_duplicate(architecture: str):
    def setup(tmp, series):
        from tests.checkpoints.test_tensor_names import save

        name, alias = DUPLICATED[architecture]
        for step, seed in ((10, 1), (20, 2)):
            save(tmp / "arch" / f"step{step:06d}", architecture, seed)
        weights = tmp / "arch" / "step000010" / "model.safetensors"
        tensors = load_file(weights)
        tensors[alias] = tensors[name].clone()
        save_file(tensors, weights, metadata={"format": "pt"})

    return setup


COMMANDS = {
    "average": ["average", "{tmp}/arch", "--window", "2", "--out", "{tmp}/avg"],
    "drift": ["drift", "{tmp}/arch"],
}
CASES = [
    {"id": f"{command}-{architecture}-one-tensor-under-two-names", "args": args,
     "setup": series_with_a_duplicate(architecture), "exit_code": 2,
     "stderr_contains": ["{tmp}/arch/step000010 stores both", DUPLICATED[architecture][1], "keep one"]}
    for architecture in DUPLICATED
    for command, args in COMMANDS.items()
]
