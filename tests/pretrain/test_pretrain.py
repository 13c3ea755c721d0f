import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ckptlens.checkpoints.series import discover_series
from ckptlens.errors import CkptlensError
from ckptlens.pretrain import PretrainConfig, pretrain
from ckptlens.tasks.task_file import load_task
from ckptlens.world import BUILTIN_TASK_NAMES

CONFIG = PretrainConfig.tiny()
STEPS = list(range(CONFIG.save_every, CONFIG.max_steps + 1, CONFIG.save_every))
LAST = f"step{STEPS[-1]:06d}"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    calls = []
    out = pretrain(PretrainConfig.tiny(), tmp_path_factory.mktemp("run"), progress=lambda *a: calls.append(a))
    return out, calls


def test_writes_one_complete_checkpoint_per_save_step(run):
    out, _ = run
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", *(f"step{s:06d}" for s in STEPS), "tasks"]
    series = discover_series(out)
    assert [c.step for c in series] == STEPS
    assert [c.tokens_seen for c in series] == [s * 8 * 64 for s in STEPS]


def test_checkpoints_load_with_auto_classes_and_differ(run):
    out, _ = run
    tokenizer = AutoTokenizer.from_pretrained(out / LAST)
    assert (tokenizer.pad_token, tokenizer.eos_token, tokenizer.unk_token) == ("<pad>", "<eos>", "<unk>")
    first = AutoModelForCausalLM.from_pretrained(out / f"step{STEPS[0]:06d}")
    last = AutoModelForCausalLM.from_pretrained(out / LAST)
    assert first.config.tie_word_embeddings and first.config.vocab_size == len(tokenizer)
    ids = torch.tensor([tokenizer("The capital of")["input_ids"]])
    assert not torch.allclose(first(ids).logits, last(ids).logits)
    assert (out / LAST / "generation_config.json").is_file()


def test_manifest_lists_every_checkpoint_with_losses(run):
    out, _ = run
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["run"] == "tiny" and manifest["seed"] == 0
    assert manifest["config"] == PretrainConfig.tiny().to_dict()
    rows = manifest["checkpoints"]
    assert [r["step"] for r in rows] == STEPS
    tokens = [r["tokens_seen"] for r in rows]
    assert tokens == sorted(set(tokens))
    assert all(0 < r["val_loss"] < 10 and 0 < r["train_loss"] < 10 for r in rows)
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    model = AutoModelForCausalLM.from_pretrained(out / f"step{STEPS[0]:06d}")
    assert manifest["n_params"] == sum(p.numel() for p in model.parameters())


def test_builtin_tasks_are_saved_beside_the_checkpoints(run):
    out, _ = run
    names = [load_task(out / "tasks" / f"{name}.jsonl").name for name in BUILTIN_TASK_NAMES]
    assert names == list(BUILTIN_TASK_NAMES)


def test_progress_is_reported_every_step(run):
    _, calls = run
    assert [c[0] for c in calls] == list(range(1, CONFIG.max_steps + 1))
    assert all(c[1] == CONFIG.max_steps and c[2] > 0 for c in calls)


def test_refuses_to_overwrite_a_previous_run(run):
    out, _ = run
    with pytest.raises(CkptlensError, match="not empty"):
        pretrain(PretrainConfig.tiny(), out)
