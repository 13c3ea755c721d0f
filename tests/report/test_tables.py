"""Terminal tables fold long names instead of cutting them, and say what their short headers mean."""

from rich.console import Console

from ckptlens.analysis.stability import StabilityRow
from ckptlens.report.tables import HEADER_KEY, stability_rich_table, summary_table


def row(task: str, method: str, note: str | None = None) -> StabilityRow:
    return StabilityRow(run="pythia-1.4b-deduped", task=task, category="knowledge", method=method, window=8,
                        n_checkpoints=3, first_step=460, last_step=480, n_examples=200, mean_score=0.9,
                        task_mtv=0.01, example_mtv=0.02, instability_score=0.03, std=0.01, relative_std=0.01,
                        monotonicity=0.0, flip_fraction=0.1, forgetting_events=2, chance=0.25, near_chance=False,
                        note=note)


def rendered(table, width=80) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(table)
    return console.export_text()


def test_long_task_and_method_names_are_folded_never_cut():
    span = "every method compared over steps 460-480 (3 checkpoints), the span all windows cover"
    rows = [row("hendrycksTest-high_school_government_and_politics", "adaptive-ensemble-mean-logprob", span)]
    text = rendered(stability_rich_table(rows))
    assert "…" not in text
    squeezed = "".join(ch for line in text.splitlines() for ch in line if ch not in "│┃ ")
    assert "hendrycksTest-high_school_government_and_politics" in squeezed.replace("\n", "")
    assert "IS" in text and "IS: instability score" in text and "compared over steps 460-480" in text
    summary = [{"run": "r", "method": "adaptive-ensemble-mean-logprob", "window": None, "n_tasks": 3,
                "mean_score": 0.9, "task_mtv": 0.01, "example_mtv": 0.02, "instability_score": 0.03, "std": 0.01}]
    text = rendered(summary_table(summary), width=60)
    assert "…" not in text and HEADER_KEY.split(";")[0] in text.replace("\n", " ")
