"""Option types shared by the ``ckptlens`` commands, and the parsers of their values."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ckptlens.analysis.adaptive import AdaptiveConfig
from ckptlens.analysis.ensemble import MULTIPLE_CHOICE_RULES
from ckptlens.errors import CkptlensError

StoreOpt = Annotated[Path, typer.Option("--store", help="Store folder holding per-example records.")]
LastOpt = Annotated[float, typer.Option("--last", help="Stability window: final fraction of training by step.")]
CategoriesOpt = Annotated[
    Path | None,
    typer.Option(help="YAML mapping each category to task names or regexes, or 'llm-jp-eval' (its 9 categories)."),
]
SizeOpt = Annotated[
    str | None, typer.Option("--size", help="Model size for by-size analyses: 1.8b, 410m or a parameter count.")
]


def parse_size(text: str | None) -> int | None:
    """``--size``: ``1.8b`` -> 1,800,000,000, ``410m``, or a plain count; None when not given."""
    if text is None:
        return None
    unit = {"k": 10**3, "m": 10**6, "b": 10**9}.get(text[-1:].lower(), 1)
    try:
        value = float(text[:-1] if unit > 1 else text)
    except ValueError:
        raise CkptlensError(f"--size {text!r}: give a count or a size like 1.8b or 410m") from None
    return round(value * unit)
WindowsOpt = Annotated[str, typer.Option("--windows", help="Averaging/ensembling window sizes, comma-separated.")]
StepsOpt = Annotated[str | None, typer.Option("--steps", help="Steps to keep: start:stop:every or 100,200.")]
RulesOpt = Annotated[str, typer.Option("--rules", help="Ensemble rules: vote, mean-logprob, mean-prob, confidence.")]
LagWeightOpt = Annotated[
    float, typer.Option("--lag-weight", help="Adaptive tradeoff: example MTV one checkpoint of lag costs.")
]
MtvTargetOpt = Annotated[float, typer.Option("--mtv-target", help="Adaptive target: example MTV to reach.")]


class TableFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class RecordFormat(str, Enum):
    jsonl = "jsonl"
    csv = "csv"


class Alignment(str, Enum):
    step = "step"
    tokens = "tokens"
    fraction = "fraction"


class Grouping(str, Enum):
    task = "task"
    category = "category"


class Dtype(str, Enum):
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


class AdaptiveRule(str, Enum):
    tradeoff = "tradeoff"
    target = "target"
    none = "none"


AdaptiveOpt = Annotated[
    AdaptiveRule,
    typer.Option("--adaptive", help="Window per task: min MTV + lag (tradeoff), smallest reaching --mtv-target, none."),
]


def adaptive_config(rule: AdaptiveRule, lag_weight: float, mtv_target: float) -> AdaptiveConfig | None:
    """The adaptive-window settings of ``--adaptive``, ``--lag-weight`` and ``--mtv-target``."""
    if rule is AdaptiveRule.none:
        return None
    return AdaptiveConfig(rule=rule.value, lag_weight=lag_weight, mtv_target=mtv_target)


def parse_windows(text: str) -> tuple[int, ...]:
    """``--windows 2,4,8`` as a tuple of positive integers."""
    try:
        windows = tuple(int(w) for w in text.split(",") if w.strip())
    except ValueError:
        raise CkptlensError(f"--windows takes comma-separated integers like 2,4,8, got {text!r}") from None
    if not windows or min(windows) < 1:
        raise CkptlensError(f"--windows needs positive integers, got {text!r}")
    return windows


def parse_rules(text: str) -> tuple[str, ...]:
    """``--rules vote,confidence`` as known ensemble rule names."""
    rules = tuple(r.strip() for r in text.split(",") if r.strip())
    unknown = [r for r in rules if r not in MULTIPLE_CHOICE_RULES]
    if unknown or not rules:
        named = unknown[0] if unknown else text
        raise CkptlensError(f"unknown ensemble rule {named!r}; use {', '.join(MULTIPLE_CHOICE_RULES)}")
    return rules
