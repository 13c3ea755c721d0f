"""Option types shared by the ``ckptlens`` commands, and the parsers of their values."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ckptlens.checkpoints.select import parse_fraction
from ckptlens.errors import CkptlensError

if TYPE_CHECKING:
    from ckptlens.analysis.adaptive import AdaptiveConfig

DEFAULT_STORE = Path("store")  # every command's --store: ./store unless told otherwise
StoreOpt = Annotated[Path, typer.Option("--store", help="Store folder holding per-example records.")]
LastOpt = Annotated[
    float,
    typer.Option("--last", parser=parse_fraction, help="Stability window: final fraction of training, 0.2 or 20%."),
]
FilterLastOpt = Annotated[
    float | None,
    typer.Option("--last", parser=parse_fraction, help="Only the final fraction of training: 0.2 or 20%."),
]
CategoriesOpt = Annotated[
    Path | None,
    typer.Option(help="YAML mapping each category to task names or regexes, or 'llm-jp-eval' (its 9 categories)."),
]
SizeOpt = Annotated[
    str | None, typer.Option("--size", help="Model size for by-size analyses: 1.8b, 410m or a parameter count.")
]
CometModelOpt = Annotated[
    str | None,
    typer.Option("--comet-model", help="llm-jp-eval MT: the downloaded Unbabel/wmt22-comet-da folder (or its "
                 "checkpoints/model.ckpt, or the cache folder holding it) to score COMET; default: "
                 "$CKPTLENS_COMET_MODEL, then the Hugging Face cache; never downloaded, BLEU without it."),
]


def parse_size(text: str | None) -> int | None:
    """``--size``: ``1.8b`` -> 1,800,000,000, ``410m``, or a plain count; None when not given."""
    from ckptlens.evaluation.request import parse_size as parse

    return parse(text)


WindowsOpt = Annotated[str, typer.Option("--windows", help="Averaging/ensembling window sizes, comma-separated.")]
StepsOpt = Annotated[str | None, typer.Option("--steps", help="Steps to keep: start:stop:every or 100,200.")]
SkipIncompleteOpt = Annotated[
    bool, typer.Option("--skip-incomplete", help="Leave out checkpoint folders without config.json.")
]
RulesOpt = Annotated[str, typer.Option("--rules", help="Ensemble rules: vote, mean-logprob, mean-prob, confidence.")]
LagWeightOpt = Annotated[
    float, typer.Option("--lag-weight", help="Adaptive tradeoff: example MTV one checkpoint of lag costs.")
]
MetricOpt = Annotated[
    str | None,
    typer.Option(help="Per-example metric: acc, acc_norm, exact_match, ... (default: each task's first; acc for "
                 "imports without samples)."),
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
    from ckptlens.analysis.adaptive import AdaptiveConfig  # numpy: imported once the command runs

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
    from ckptlens.analysis.ensemble import MULTIPLE_CHOICE_RULES

    rules = tuple(r.strip() for r in text.split(",") if r.strip())
    unknown = [r for r in rules if r not in MULTIPLE_CHOICE_RULES]
    if unknown or not rules:
        named = unknown[0] if unknown else text
        raise CkptlensError(f"unknown ensemble rule {named!r}; use {', '.join(MULTIPLE_CHOICE_RULES)}")
    return rules


IncludePathOpt = Annotated[
    list[str] | None, typer.Option("--include-path", help="lm-eval: folder of task YAMLs (repeatable), as lm_eval's.")
]
NumFewshotOpt = Annotated[
    int | None, typer.Option(help="Demonstrations per prompt (default: the lm-eval YAML's; llm-jp-eval: 4).")
]
LimitOpt = Annotated[float | None, typer.Option(help="First N documents per task (lm-eval: below 1, a fraction).")]
FewshotSeedOpt = Annotated[int, typer.Option(help="lm-eval: seed of the few-shot sampler, lm_eval's default.")]
ChatTemplateOpt = Annotated[bool, typer.Option(help="lm-eval: apply a chat template (not supported: an error).")]
