"""evaluate_series: every record column filled, one unit per (checkpoint, task), resume after a kill."""

import pytest

from ckptlens.checkpoints import discover_series
from ckptlens.checkpoints.loading import load_model
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.runner import EvalConfig, evaluate_series, prompt_hash
from ckptlens.evaluation.scoring import score_multiple_choice
from ckptlens.store import RECORD_SCHEMA, Store
from ckptlens.tasks.choice import predicted_option as argmax_first
from ckptlens.tasks.task import Example, Task

SHOTS = "Q : what is red ? A : blue . "
CAPITALS = Task(
    name="capitals",
    kind="multiple_choice",
    category="knowledge",
    examples=tuple(
        Example(
            f"c{i}",
            f"{SHOTS}Q : what is the capital of {country} ? A :",
            (" Paris", " Rome", " Oslo"),
            gold=i,
        )
        for i, country in enumerate(["one", "two", "three"])
    ),
)
ECHO = Task(
    name="echo",
    kind="generation",
    category="copying",
    examples=(Example("e0", "red blue", target="red"), Example("e1", "cat dog", target=" dog dog ")),
    stop=(".",),
    max_new_tokens=3,
)
TASKS = [CAPITALS, ECHO]


@pytest.fixture
def counting_loader(one_thread):
    """load_model on CPU that records which checkpoints it opened."""
    opened = []

    def load(checkpoint):
        opened.append(checkpoint.name)
        return load_model(checkpoint.path, device="cpu")

    load.opened = opened
    return load


def _keys(table):
    return [(r["checkpoint"], r["task"], r["example_id"]) for r in table.to_pylist()]


def test_records_fill_every_column(tiny_series, tmp_path, counting_loader):
    series = discover_series(tiny_series)
    store = Store(tmp_path / "store")
    summary = evaluate_series(
        series[:2], TASKS, store, run="tiny", config=EvalConfig(batch_size=4), load=counting_loader
    )
    assert (summary.units_done, summary.units_skipped, summary.models_loaded) == (4, 0, 2)
    table = store.read(runs=["tiny"])
    assert table.schema == RECORD_SCHEMA and table.num_rows == 2 * (3 + 2)
    rows = table.to_pylist()
    always = {"run", "checkpoint", "step", "task", "category", "kind", "example_id", "output", "target"}
    always |= {"correct", "score", "prompt_hash", "dtype"}
    assert all(row[col] is not None for row in rows for col in always)

    model, tok = load_model(series[0].path, device="cpu")
    expected = score_multiple_choice(model, tok, CAPITALS.examples)
    mc = [r for r in rows if r["task"] == "capitals" and r["checkpoint"] == series[0].name]
    for row, example, scores in zip(mc, CAPITALS.examples, expected, strict=True):
        assert row["step"] == series[0].step and row["kind"] == "multiple_choice" and row["category"] == "knowledge"
        assert row["logliks"] == pytest.approx(scores.logliks, abs=1e-5)
        assert row["choice_tokens"] == scores.n_tokens
        assert row["pred"] == argmax_first(row["logliks"]) and row["gold"] == example.gold
        assert row["output"] == example.choices[row["pred"]] and row["target"] == example.choices[example.gold]
        assert row["correct"] == (row["pred"] == row["gold"]) and row["score"] == float(row["correct"])
        assert row["prompt_hash"] == prompt_hash(example.context) and len(row["prompt_hash"]) == 64
        assert row["dtype"] == "float32"

    gen = [r for r in rows if r["task"] == "echo"]
    assert all(r["kind"] == "generation" and r["pred"] is None and r["logliks"] is None for r in gen)
    assert all(r["score"] == float(r["output"].strip() == r["target"].strip()) for r in gen)
    assert all(r["correct"] == (r["score"] == 1.0) for r in gen)


def test_resume_after_kill_writes_every_record_once(tiny_series, tmp_path, counting_loader):
    series = discover_series(tiny_series)
    store = Store(tmp_path / "store")
    seen = []

    def kill_after_three_units(checkpoint, task):
        seen.append((checkpoint.name, task.name))
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate_series(series, TASKS, store, "tiny", on_unit=kill_after_three_units, load=counting_loader)
    assert counting_loader.opened[:2] == [series[0].name, series[1].name]  # (step 30 may be loading ahead)

    # the unit whose report raised is on disk, and so is any unit queued before the error surfaced
    incomplete = [c.name for c in series if not all(store.has_unit("tiny", c.name, t.name) for t in TASKS)]
    assert series[0].name not in incomplete and series[2].name in incomplete
    counting_loader.opened.clear()
    summary = evaluate_series(series, TASKS, store, "tiny", load=counting_loader)
    assert summary.units_done + summary.units_skipped == 8 and summary.units_skipped >= 3
    assert counting_loader.opened == incomplete  # complete checkpoints are never loaded again

    keys = _keys(store.read(runs=["tiny"]))
    assert len(keys) == len(set(keys)) == len(series) * (3 + 2)

    counting_loader.opened.clear()
    again = evaluate_series(series, TASKS, store, "tiny", load=counting_loader)
    assert (again.units_done, again.units_skipped, again.models_loaded) == (0, 8, 0)
    assert counting_loader.opened == []


def test_on_unit_reports_every_unit(tiny_series, tmp_path, counting_loader):
    series = discover_series(tiny_series)[:2]
    store = Store(tmp_path / "store")
    evaluate_series(series[:1], [CAPITALS], store, "tiny", load=counting_loader)
    seen = []
    evaluate_series(
        series, TASKS, store, "tiny", on_unit=lambda c, t: seen.append((c.name, t.name)), load=counting_loader
    )
    assert sorted(seen) == sorted((c.name, t.name) for c in series for t in TASKS)


def test_default_loader_reads_the_folder(tiny_series, tmp_path, one_thread):
    series = discover_series(tiny_series)[:1]
    summary = evaluate_series(series, [ECHO], Store(tmp_path), "tiny", EvalConfig(device="cpu", dtype="bfloat16"))
    assert summary.models_loaded == 1
    assert Store(tmp_path).read()["dtype"].to_pylist() == ["bfloat16", "bfloat16"]


def test_duplicate_task_names_are_refused(tiny_series, tmp_path):
    with pytest.raises(CkptlensError, match="several tasks share the name 'echo'"):
        evaluate_series(discover_series(tiny_series), [ECHO, ECHO], Store(tmp_path), "tiny")


def test_argmax_ties_go_to_lowest_index():
    assert argmax_first([-1.0, -1.0, -3.0]) == 0
    assert argmax_first([-5.0, -2.0, -2.0]) == 1
