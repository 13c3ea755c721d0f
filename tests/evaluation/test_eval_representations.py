"""``eval --representations``: hidden states from the scoring passes, the records unchanged, the states equal to a
plain prompt pass (what ``ckptlens representations`` runs), compact, and never mixed across settings."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from transformers import LlamaConfig, LlamaForCausalLM

from ckptlens.analysis.stability import StabilityConfig
from ckptlens.checkpoints import discover_series
from ckptlens.checkpoints.loading import load_model
from ckptlens.diagnostics.representation_series import record_series
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.context_states import context_tokens
from ckptlens.evaluation.prefix_tree import plan_prefixes
from ckptlens.evaluation.runner import EvalConfig, evaluate_series
from ckptlens.report import ReportConfig, write_report
from ckptlens.store import Store
from ckptlens.store.representations import StateSettings, read_states, states_folder
from ckptlens.tasks.task import Example, Task
from tests.conftest import build_tokenizer
from tests.evaluation.same_records import sorted_records
from tests.evaluation.test_runner import ECHO

SHARED = "Q : what is red ? A : blue . Q : what is the cat ? A : green . Q : what is one plus two ? A : three . "
GROUPS = ("Q : the dog runs and the bird sleeps . ", "Q : the city of Paris or the country of Rome ? ")
WORDS = ("red", "blue", "green", "cat", "dog", "bird", "Oslo")
CHOICE = Task(  # two levels of shared prefixes (the demonstrations, then a group's), own tails of several lengths
    name="choice", kind="multiple_choice", category="knowledge",
    examples=tuple(Example(f"q{i}", SHARED + GROUPS[i % 2] + f"Q : what is {' the ' * (i % 3)}{WORDS[i % 7]} ? A :"
                           + (" " if i == 3 else ""), (" yes", " no one", " red"), gold=i % 3) for i in range(14)),
)  # fmt: skip
SHOTS = Task(  # generation behind the same demonstrations: the shared prefix runs once, its states count for all
    name="shots", kind="generation", category="copying", stop=(".",), max_new_tokens=3,
    examples=tuple(Example(f"s{i}", SHARED + f"Q : what is {' the ' * (i % 2)}{WORDS[i % 7]} ? A :", target="blue")
                   for i in range(7)),
)  # fmt: skip
ALL_LAYERS = StateSettings(layers=(0, 1, 2))


@pytest.fixture(scope="module")
def stores(tiny_series, tmp_path_factory, one_thread):
    """The first two checkpoints on a multiple-choice and a generation task: without states, with states, and the
    states ``ckptlens representations`` records for the same checkpoints."""
    root = tmp_path_factory.mktemp("reps")
    series = discover_series(tiny_series)[:2]
    plain, kept, alone = Store(root / "plain"), Store(root / "kept"), Store(root / "alone")
    evaluate_series(series, [CHOICE, ECHO, SHOTS], plain, "tiny", EvalConfig(device="cpu", batch_size=3))
    config = EvalConfig(device="cpu", batch_size=3, batch_tokens=200, representations=ALL_LAYERS)
    evaluate_series(series, [CHOICE, ECHO, SHOTS], kept, "tiny", config)
    steps = root / "two"
    steps.mkdir()
    for checkpoint in series:
        (steps / checkpoint.name).symlink_to(checkpoint.path)
    record_series(steps, [CHOICE, ECHO, SHOTS], alone, "tiny", ALL_LAYERS)
    return plain, kept, alone


def test_the_multiple_choice_contexts_share_nested_prefixes(tiny_series):
    _, tokenizer = load_model(tiny_series / "step000010", device="cpu")
    plan = plan_prefixes(context_tokens(tokenizer, CHOICE))
    assert len(plan.nodes) == 3 and {n.parent for n in plan.nodes} == {None, 0}  # the shared node, then two groups


def test_records_are_the_same_with_and_without_representations(stores):
    plain, kept, _ = stores
    assert sorted_records(kept.read()).equals(sorted_records(plain.read()))
    assert not (plain.root / "representations").exists()


def test_states_from_the_scoring_passes_equal_a_plain_prompt_pass(stores):
    _, kept, alone = stores
    for task in ("choice", "echo", "shots"):
        ours, theirs = read_states(kept, "tiny", task), read_states(alone, "tiny", task)
        assert list(ours.steps) == list(theirs.steps) == [10, 20] and list(ours.layers) == [0, 1, 2]
        assert list(ours.example_ids) == list(theirs.example_ids) and ours.mean.dtype == np.float16
        assert ours.mean.shape == (2, 3, len(ours.example_ids), 32)
        for name in ("mean", "last"):  # float16: agree to its precision
            np.testing.assert_allclose(getattr(ours, name).astype(np.float32), getattr(theirs, name).astype(np.float32),
                                       rtol=2e-3, atol=2e-3, err_msg=f"{task} {name}")
        assert np.abs(ours.mean[0, 2] - ours.last[0, 2]).max() > 0.01  # pooling and last token differ


def test_eval_records_the_request_and_refuses_a_rerun_with_other_states(tiny_series, tmp_path, cli, one_thread):
    from tests.cli.conftest import write_mc_task

    task = write_mc_task(tmp_path / "colours.jsonl", n=6)
    store = tmp_path / "store"
    args = ("eval", tiny_series, "--tasks", task, "--store", store, "--run", "tiny", "--steps", "10,20,30")
    code, _, err = cli(*args, "--representations")
    assert code == 0, err
    request = json.loads((store / "runs" / "tiny.json").read_text())["request"]
    assert (request["representations"], request["representation_layers"], request["representation_seed"]) == (
        True, [], 0)
    code, _, err = cli(*args, "--representations", "--layers", "1")
    assert code == 2 and "representation_layers=[]" in err and "another --run" in err
    code, _, err = cli(*args)
    assert code == 2 and "representations=True" in err
    code, _, err = cli("eval", tiny_series, "--tasks", task, "--store", store, "--run", "other", "--representations",
                       "--layers", "3")
    assert code == 2 and "--layers 3: the model has 2 blocks" in err
    assert not (store / "runs" / "other.json").exists()  # refused before the run is recorded
    code, _, err = cli(*args, "--projection-seed", "3")
    assert code == 2 and "need --representations" in err
    code, out, err = cli("representations", "--store", store, "--format", "json")  # no model: the stored states
    assert code == 0, err
    rows = json.loads(out)
    assert {(r["run"], r["task"], r["step_a"], r["step_b"]) for r in rows} == {("tiny", "colours", 10, 20),
                                                                          ("tiny", "colours", 20, 30)}
    assert {r["layer"] for r in rows} == {1, 2} and all(0 < r["cka"] <= 1 + 1e-9 for r in rows)
    assert all(r["flip_spearman"] is None or -1 <= r["flip_spearman"] <= 1 for r in rows)
    config = ReportConfig(stability=StabilityConfig(last=1.0, windows=(2,), bootstrap=0, adaptive=None))
    report = write_report(Store(store), tmp_path / "report", config).html.read_text()
    assert "Representations over training" in report and "CKA between neighbouring checkpoints ranges" in report


def test_sharded_units_keep_the_same_states(tiny_series, stores, tmp_path, one_thread):
    _, kept, _ = stores
    sharded = Store(tmp_path / "sharded")
    config = EvalConfig(device="cpu", batch_size=3, shard_size=5, representations=ALL_LAYERS)
    evaluate_series(discover_series(tiny_series)[:2], [CHOICE], sharded, "tiny", config)
    assert len(list(states_folder(sharded, "tiny", "choice").glob("*.shards/*.npz"))) == 2 * 3
    ours, whole = read_states(sharded, "tiny", "choice"), read_states(kept, "tiny", "choice")
    assert list(ours.example_ids) == list(whole.example_ids)
    np.testing.assert_allclose(ours.mean.astype(np.float32), whole.mean.astype(np.float32), rtol=2e-3, atol=2e-3)
    assert pq.read_table(sharded.unit_path("tiny", "step000010", "choice")).num_rows == 14


def test_the_store_grows_at_most_2_kb_per_example_and_checkpoint_at_the_default_settings(tmp_path, one_thread):
    """A model wider than the projection (512 features kept as 256), the middle and last of its 2 blocks."""
    tokenizer = build_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=512, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=8, max_position_embeddings=256, pad_token_id=0, eos_token_id=1)
    folder = tmp_path / "wide" / "step000100"
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    store = Store(tmp_path / "store")
    evaluate_series(discover_series(tmp_path / "wide"), [CHOICE], store, "wide",
                    EvalConfig(device="cpu", representations=StateSettings()))
    states = read_states(store, "wide", "choice")
    assert states.mean.shape == (1, 2, 14, 256) and list(states.layers) == [1, 2]
    size = sum(f.stat().st_size for f in states_folder(store, "wide", "choice").glob("*.npz"))
    assert size / len(CHOICE.examples) <= 2048


def test_reevaluating_a_changed_task_replaces_its_states(tiny_series, tmp_path, one_thread):
    from dataclasses import replace

    from ckptlens.evaluation.evaluate import SeriesOptions, evaluate

    store = Store(tmp_path / "store")
    config = EvalConfig(device="cpu", representations=StateSettings())
    series = SeriesOptions(steps="10,20")
    evaluate(tiny_series, [CHOICE], store, "tiny", config, series=series)
    before = read_states(store, "tiny", "choice")
    edited = replace(CHOICE, examples=(replace(CHOICE.examples[0], context="Q : what is blue ? A :"),
                                       *CHOICE.examples[1:]))
    evaluate(tiny_series, [edited], store, "tiny", replace(config, reevaluate=True), series=series)
    after = read_states(store, "tiny", "choice")
    assert not np.allclose(after.last[:, :, 0], before.last[:, :, 0], atol=1e-2)  # the edited example: new states
    np.testing.assert_allclose(after.last[:, :, 1:].astype(np.float32), before.last[:, :, 1:].astype(np.float32),
                               rtol=2e-3, atol=2e-3)  # the others: the same, rescored
    with pytest.raises(CkptlensError, match="representation_seed"):
        evaluate(tiny_series, [CHOICE], store, "tiny", replace(config, representations=StateSettings(seed=1)),
                 series=series)


def test_eval_with_representations_killed_anywhere_then_rerun(tiny_series, tmp_path, one_thread):
    """Every stored unit has its states, nothing half-written is left, and a rerun ends with the uninterrupted
    run's records and states (npz files carry write times, so their arrays are compared)."""
    from ckptlens.evaluation.evaluate import SeriesOptions, evaluate
    from tests.robustness.test_kill import files, killed_at, leftovers, timed

    def make(folder):
        return lambda: evaluate(tiny_series, [CHOICE, ECHO], Store(folder), "run",
                                EvalConfig(batch_size=4, representations=StateSettings()),
                                series=SeriesOptions(steps="10,20,30"))  # fmt: skip

    seconds = timed(make(tmp_path / "ref"))
    reference = Store(tmp_path / "ref")
    for seed in range(4):
        store = Store(tmp_path / f"seed{seed}")
        killed_at(seed, seconds, make(store.root))
        for unit in store.root.glob("records/run/*/*.parquet"):  # a stored unit always has its states
            assert (store.root / "representations" / "run" / unit.parent.name / f"{unit.stem}.npz").is_file()
        make(store.root)()
        assert files(store.root, (".parquet",)) == files(reference.root, (".parquet",)) and leftovers(store.root) == []
        for task in ("choice", "echo"):
            ours, theirs = read_states(store, "run", task), read_states(reference, "run", task)
            assert list(ours.steps) == list(theirs.steps) == [10, 20, 30]
            np.testing.assert_array_equal(ours.mean, theirs.mean)
            np.testing.assert_array_equal(ours.last, theirs.last)
