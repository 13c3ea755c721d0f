"""Option types shared by the ``ckptlens`` commands."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

StoreOpt = Annotated[Path, typer.Option("--store", help="Store folder holding per-example records.")]
LastOpt = Annotated[float, typer.Option("--last", help="Stability window: final fraction of training by step.")]
CategoriesOpt = Annotated[Path | None, typer.Option(help="YAML mapping each category to task names or regexes.")]
WindowsOpt = Annotated[str, typer.Option("--windows", help="Averaging/ensembling window sizes, comma-separated.")]
StepsOpt = Annotated[str | None, typer.Option("--steps", help="Steps to keep: start:stop:every or 100,200.")]


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
