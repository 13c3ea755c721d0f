"""Bad input: one-line errors for what cannot be joined, warnings for what can be analysed anyway."""

from __future__ import annotations

import pytest

from ckptlens.errors import CkptlensError
from ckptlens.importers import import_lm_eval
from ckptlens.store import Store
from tests.importers.lm_eval_files import Checkpoint, ChoiceSample, write_new_format, write_old_format


def samples(n: int = 5, question: str = "q") -> list[ChoiceSample]:
    return [ChoiceSample(i, f"{question} {i}", ["a", "b"], gold=i % 2, logliks=[-1.0, -2.0 + i % 3]) for i in range(n)]


def two_checkpoints(out, second: dict, first: dict | None = None):
    first = first or {"piqa": samples()}
    write_new_format(out, Checkpoint("step100", first, stamp="2024-01-01T00-00-00.0"), folder="s100")
    write_new_format(out, Checkpoint("step200", second, stamp="2024-01-02T00-00-00.0"), folder="s200")
    return out


def test_changed_prompts_are_refused_naming_task_and_doc_ids(tmp_path):
    changed = samples()[:3] + samples(question="other")[3:]
    out = two_checkpoints(tmp_path / "out", {"piqa": changed})
    with pytest.raises(CkptlensError, match=r"task 'piqa': the prompt of doc_ids 3, 4 \(2 in all\)") as err:
        import_lm_eval([out], tmp_path / "store")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "store").exists()  # nothing was written, not even the task-level results


def _import_one(tmp_path, checkpoint: str, piqa: list[ChoiceSample]) -> None:
    out = tmp_path / f"out-{checkpoint}"
    write_new_format(out, Checkpoint(checkpoint, {"piqa": piqa}, stamp="2024-01-01T00-00-00.0"))
    import_lm_eval([out], tmp_path / "store", run="r")


def _keep_16_digits(store: Store, checkpoint: str) -> None:
    """The unit as an older ckptlens imported it: the first 16 hex digits of lm-eval's prompt_hash."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(store.unit_path("r", checkpoint, "piqa"))
    short = pc.utf8_slice_codeunits(table["prompt_hash"], 0, 16)
    store.write_unit("r", checkpoint, "piqa", table.set_column(table.schema.get_field_index("prompt_hash"),
                                                               pa.field("prompt_hash", pa.string()), short))


def test_16_digit_hashes_of_an_older_import_line_up_with_a_new_import(tmp_path):
    from ckptlens.analysis.matrix import store_matrix

    store = Store(tmp_path / "store")
    _import_one(tmp_path, "step100", samples())
    _keep_16_digits(store, "step100")
    _import_one(tmp_path, "step200", samples())
    assert list(store_matrix(store, "r", "piqa").steps) == [100, 200]
    with pytest.raises(CkptlensError, match=r"task 'piqa': 2 example\(s\) differ from the stored records \(3, 4\)"):
        _import_one(tmp_path, "step300", samples()[:3] + samples(question="other")[3:])


def test_samples_file_of_another_task_is_refused(tmp_path):
    out = tmp_path / "out"
    folder = write_new_format(out, Checkpoint("step100", {"piqa": samples(), "sciq": samples(question="s")}))
    piqa, sciq = sorted(folder.glob("samples_*.jsonl"))
    piqa_text = piqa.read_text()
    piqa.write_text(sciq.read_text())
    sciq.write_text(piqa_text)
    with pytest.raises(CkptlensError, match="holds the samples of task 'sciq', not 'piqa'"):
        import_lm_eval([out], tmp_path / "store")


def test_duplicate_doc_ids_are_refused(tmp_path):
    out = tmp_path / "out"
    folder = write_new_format(out, Checkpoint("step100", {"piqa": samples()}))
    path = next(folder.glob("samples_*.jsonl"))
    path.write_text(path.read_text() * 2)
    with pytest.raises(CkptlensError, match="doc_id 0 appears twice"):
        import_lm_eval([out], tmp_path / "store")


def test_checkpoint_missing_examples_is_imported(tmp_path):
    out = two_checkpoints(tmp_path / "out", {"piqa": samples()[:3]})
    summary = import_lm_eval([out], tmp_path / "store")
    assert summary.records == 5 + 3


def test_task_in_some_checkpoints_only_warns(tmp_path):
    out = two_checkpoints(tmp_path / "out", {"piqa": samples()}, {"piqa": samples(), "sciq": samples()})
    with pytest.warns(UserWarning, match=r"task 'sciq' is missing at 1 of 2 checkpoints \(step200\)"):
        import_lm_eval([out], tmp_path / "store")


def test_results_without_a_step_name_the_file_and_step_from(tmp_path):
    path = write_old_format(tmp_path / "runs" / "ckpt-0420" / "results.json", "main", {"piqa": {"acc": 0.5}})
    with pytest.raises(CkptlensError, match=r"no training step for .*results\.json.*--step-from"):
        import_lm_eval([path], tmp_path / "store")
    import_lm_eval([path], tmp_path / "store", run="r", step_from=r"ckpt-(\d+)")
    assert Store(tmp_path / "store").read_aggregates().to_pylist()[0]["step"] == 420


def test_step_from_needs_a_group(tmp_path):
    path = write_old_format(tmp_path / "a.json", "main", {"piqa": {"acc": 0.5}})
    with pytest.raises(CkptlensError, match="needs a group"):
        import_lm_eval([path], tmp_path / "store", step_from=r"ckpt-\d+")


def test_samples_without_their_results_file_are_refused(tmp_path):
    folder = write_new_format(tmp_path / "out", Checkpoint("step100", {"piqa": samples()}))
    for results in folder.glob("results_*.json"):
        results.rename(tmp_path / "elsewhere.json")
    with pytest.raises(CkptlensError, match="no results_.*json beside"):
        import_lm_eval([folder, tmp_path / "elsewhere.json"], tmp_path / "store")
