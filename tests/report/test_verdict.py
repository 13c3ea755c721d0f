"""The verdict at the top of the report: plain sentences computed from hand-made table rows."""

from ckptlens.analysis.failures import LagFlag
from ckptlens.analysis.selection import ALL_TASKS, Selection
from ckptlens.analysis.stability import StabilityRow
from ckptlens.report.verdict import BestCheckpoint, Cite, verdict


def row(task, method="raw", window=1, score=0.80, example_mtv=0.08, std=0.02, n=10, near=False, run="demo",
        task_mtv=0.02):
    return StabilityRow(run, task, "knowledge", method, window, n, 390, 480, 200, score, task_mtv, example_mtv,
                        example_mtv, std, std / score, 0.1, 0.3, 12, 0.25, near)


def best(task, reliable):
    return BestCheckpoint("demo", task, 470, 0.85, 460, 0.02, 0.3, 480, 0.01, 0.6, reliable)


def selection(rule, gain, win, loss):
    return Selection("demo", ALL_TASKS, rule, 4, 470, 0.85, 0.84, win, loss, gain)


def test_averaging_that_halves_the_flips_at_the_same_score():
    rows = [row("a"), row("b", example_mtv=0.06),  # raw example MTV 0.07 over both tasks
            row("a", "average", 4, 0.81, 0.035), row("b", "average", 4, 0.80, 0.035),
            row("a", "ensemble-vote", 4, 0.79, 0.05), row("b", "ensemble-vote", 4, 0.79, 0.05)]
    text = verdict(rows, [best("a", False), best("b", True)], [selection("raw", 0.0, 0.0, 0.0),
                                                                 selection("trailing-mean", 0.02, 0.55, 0.05)])
    assert text.startswith("Over the final window (steps 390–480), the raw task score moves by 0.020 between "
                           "neighbouring checkpoints on average (mean over the 2 tasks, listed under the table), while "
                           "7.0% of the examples change between right and wrong")
    assert ("Averaging 4 checkpoints cuts these flips by 50% (example MTV 0.070 → 0.035) at the same score "
            "(0.800 → 0.805).") in text
    assert "Trust the average of the last 4 checkpoints over any single raw checkpoint." in text
    assert "On 1 of 2 tasks, the best raw checkpoint is not reliably better than its neighbours" in text
    assert ("picking by the trailing mean of 4 checkpoints' scores beats picking by raw score in 55% of splits and "
            "loses in 5% (+0.020 on average)") in text
    assert "No averaged checkpoints" not in text


def test_an_ensemble_that_helps_only_at_a_lower_score_does_not_help():
    rows = [row("a", score=0.80, std=0.01), row("a", "ensemble-vote", 8, 0.70, 0.02)]
    text = verdict(rows, [best("a", True)])
    assert ("Neither averaging nor ensembling cuts example-level flips by 20% or more at the same score here, so "
            "integrating checkpoints does not help this evaluation; an ensemble of 8 checkpoints (majority vote) "
            "flips less (0.020) but lowers the score (0.800 → 0.700).") in text
    assert "No averaged checkpoints were evaluated" in text  # and what to run
    assert "reliably better than its neighbours on every task" in text
    assert "Trust" not in text


def test_integration_that_barely_changes_the_flips_does_not_help():
    rows = [row("a"), row("a", "average", 2, 0.80, 0.075)]
    text = verdict(rows)
    assert "does not help this evaluation." in text and "flips less" not in text


def test_no_averages_or_ensembles_says_what_to_run():
    text = verdict([row("a"), row("b")])
    assert "No averaged or ensembled checkpoints are in the store to compare with" in text
    assert "`ckptlens average SERIES --window 4 --out AVG`" in text


def test_too_few_checkpoints_in_the_final_window():
    text = verdict([row("a", n=2), row("a", "average", 2, 0.9, 0.0, n=2)])
    assert text.startswith("The final window holds only 2 checkpoints, so each MTV is a single difference")
    assert "`--last 0.4`" in text


def test_near_chance_tasks_are_left_out_or_named():
    assert verdict([row("a", score=0.26, near=True)]).startswith("Every task (1) scores near chance")
    text = verdict([row("a"), row("b", score=0.26, near=True)])
    assert "(mean over the task, listed under the table)" in text and "near chance" not in text


def test_the_best_checkpoint_on_every_task_or_on_one():
    rows = [row("a"), row("b"), row("c")]
    shaky = [best(t, False) for t in "abc"]
    assert "On all 3 tasks, the best raw checkpoint is not reliably better" in verdict(rows, shaky)
    assert "On this task, the best raw checkpoint" in verdict([row("a")], [best("a", False)])


def test_nothing_evaluated():
    assert verdict([]).startswith("Nothing was evaluated in the final window")


def test_examples_that_never_flip_leave_nothing_to_cut():
    text = verdict([row("a", example_mtv=0.0), row("a", "ensemble-vote", 2, 0.80, 0.0)])  # was a ZeroDivisionError
    assert "averaging or ensembling has no flips to cut here." in text and "cuts these flips" not in text


def test_a_window_that_lags_a_rising_score_gives_way_to_the_adaptive_pick():
    rows = [row("a"), row("b"), row("a", "average", 2, 0.80, 0.06), row("b", "average", 2, 0.80, 0.06),
            row("a", "average", 8, 0.80, 0.02), row("b", "average", 8, 0.80, 0.02),
            row("a", "adaptive-average", 2, 0.80, 0.05), row("b", "adaptive-average", 8, 0.80, 0.03)]
    lag = LagFlag("demo", "a", "average", 8, 470, 0.85, 0.80, 0.05, 0.06, 0.02)
    text = verdict(rows, lags=[lag])
    assert "Trust the average of the last 8" not in text
    assert ("But the average of the last 8 checkpoints lags a rising score on a (up to 0.050 below the newest "
            "checkpoint, in Where integration fails); the adaptive rule picks a window per task there (a: 2).") in text
    assert ("Trust the average of the window the adaptive rule picks per task: example MTV 0.040 at score 0.800 "
            "(row adaptive-average, window per task).") in text
    assert Cite("0.050", "fail:demo:a:average:8:lag:by") in text.parts
    assert Cite("0.040", "mean:demo:adaptive-average:per task:example_mtv") in text.parts


def test_runs_are_compared_over_the_tasks_every_run_has_above_chance():
    rows = [row("a", run="small", task_mtv=0.03, score=0.6), row("b", run="small", near=True, score=0.26),
            row("a", run="big", task_mtv=0.01, score=0.7), row("b", run="big", score=0.9),
            row("c", run="big", score=0.9)]
    text = verdict(rows)
    assert ("the raw task score moves between neighbouring checkpoints by 0.010 (big) to 0.030 (small) on average "
            "(mean over the task every run has above chance, listed under the table); "
            "the mean score is 0.700 for big and 0.600 for small.") in text
    cited = [p for p in text.parts if isinstance(p, Cite)]
    assert {c.ref for c in cited} >= {"mean:big:raw:1:task_mtv", "mean:small:raw:1:task_mtv"}


def test_an_adaptive_window_that_does_not_steady_the_score_is_not_trusted():
    rows = [row("a"), row("a", "average", 8, 0.80, 0.02), row("a", "adaptive-average", 2, 0.80, 0.075)]
    text = verdict(rows, lags=[LagFlag("demo", "a", "average", 8, 470, 0.85, 0.80, 0.05, 0.06, 0.02)])
    assert "Trust" not in text
    assert ("With those windows the flips stay near the raw level (example MTV 0.075, row adaptive-average): no window "
            "both keeps up with the rising score and cuts the flips") in text
