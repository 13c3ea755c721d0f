"""A Pythia-like store: 7 sizes imported from generated results files in the old lm-eval format that the Pythia
suite published (as ``tests/analysis/test_pythia_format.py`` writes them), with the real suite's shape: log-spaced
early steps, a handful of tasks the models learn and many MMLU subjects at chance, and learned sets that differ
between sizes (the small models are at chance on winogrande, the large ones not)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ckptlens.importers import import_lm_eval
from ckptlens.store import Store

SIZES = {"70m": 0.0, "160m": 0.15, "410m": 0.35, "1.4b": 0.55, "2.8b": 0.7, "6.9b": 0.85, "12b": 1.0}
STEPS = (0, 1, 8, 64, 512, 1000, 3000, 13000, 33000, 53000, 73000, 93000, 113000, 123000, 133000, 143000)
# task: (chance, final score of the smallest model, of the largest)
LEARNED = {"arc_easy": (0.25, 0.38, 0.70), "piqa": (0.5, 0.60, 0.76), "sciq": (0.25, 0.61, 0.91),
           "lambada_openai": (0.0, 0.19, 0.70), "winogrande": (0.5, 0.51, 0.64), "arc_challenge": (0.25, 0.18, 0.32)}
MMLU = tuple(f"hendrycksTest-subject_{i:02d}" for i in range(24))


def write_pythia_like(folder: Path, seed: int = 0) -> dict[str, Path]:
    """One folder of results files per size; returns size -> folder."""
    rng = np.random.default_rng(seed)
    folders = {}
    for size, strength in SIZES.items():
        out = folder / f"pythia-{size}" / "zero-shot"
        out.mkdir(parents=True)
        for step in STEPS:
            progress = 1 - np.exp(-step / 15000)
            results = {}
            for task, (chance, small, large) in LEARNED.items():
                final = small + (large - small) * strength
                start = chance if chance else 0.0
                results[task] = {"acc": float(start + (final - start) * progress + rng.normal(0, 0.006)),
                                 "acc_stderr": 0.01}
            for task in MMLU:
                results[task] = {"acc": float(0.25 + rng.normal(0, 0.02)), "acc_stderr": 0.04}
            results["lambada_openai"]["ppl"] = float(200 * np.exp(-3 * progress * (0.6 + strength)))
            config = {"model": "hf-causal",
                      "model_args": f"use_accelerate=True,pretrained=EleutherAI/pythia-v1.1-{size},revision=step{step}",
                      "num_fewshot": 0}
            (out / f"{size}_step{step}.json").write_text(json.dumps({"results": results, "versions": {},
                                                                     "config": config}))
        folders[size] = out
    return folders


def pythia_like_store(folder: Path) -> Store:
    """The 7 sizes imported into ``folder / "store"``, one run per size (pythia-70m, ...)."""
    store = Store(folder / "store")
    for size, files in write_pythia_like(folder / "results").items():
        import_lm_eval([files], store, f"pythia-{size}")
    return store
