"""COMET: where ckptlens finds the model, what it says when the package or the model is missing, and how it
scores (with a fake ``comet`` module: no download, no real model)."""

from __future__ import annotations

import sys

import pytest
import torch

from ckptlens.errors import CkptlensError
from ckptlens.tasks.comet import ENV_VARIABLE, comet_scorer, locate_comet
from ckptlens.tasks.llm_jp_eval import LlmJpEvalOptions, dataset_scoring, load_llm_jp_eval
from ckptlens.tasks.metrics import score_examples
from tests.tasks.comet_fake import fake_score, write_hub_cache, write_model_folder
from tests.tasks.llm_jp_eval_files import MT_SAMPLES, write_mt_dataset


def test_the_model_is_found_from_the_flag_the_variable_or_the_cache(fake_comet, hub_cache, tmp_path, monkeypatch):
    folder = write_model_folder(tmp_path / "wmt22-comet-da")
    checkpoint = str(folder / "checkpoints" / "model.ckpt")
    assert locate_comet(folder).checkpoint == checkpoint
    assert locate_comet(checkpoint).checkpoint == checkpoint
    saved = write_hub_cache(tmp_path / "llm-jp-eval-resources")  # download_model(..., saving_directory=...)
    assert locate_comet(tmp_path / "llm-jp-eval-resources").checkpoint == str(saved / "checkpoints" / "model.ckpt")
    assert locate_comet().checkpoint is None
    monkeypatch.setenv(ENV_VARIABLE, str(folder))
    assert locate_comet().checkpoint == checkpoint
    monkeypatch.delenv(ENV_VARIABLE)
    cached = write_hub_cache(hub_cache)  # a plain download_model("Unbabel/wmt22-comet-da")
    assert locate_comet().checkpoint == str(cached / "checkpoints" / "model.ckpt")


def test_a_path_without_the_model_is_an_error_naming_where_it_came_from(fake_comet, tmp_path, monkeypatch):
    with pytest.raises(CkptlensError, match=r"^--comet-model .*: no COMET checkpoint there; give the Unbabel"):
        locate_comet(tmp_path)
    monkeypatch.setenv(ENV_VARIABLE, str(tmp_path / "nowhere"))
    with pytest.raises(CkptlensError, match=r"^\$CKPTLENS_COMET_MODEL .*nowhere: no COMET checkpoint"):
        locate_comet()


def test_without_the_package_mt_says_so_and_uses_bleu(hub_cache, tmp_path, monkeypatch):
    write_hub_cache(hub_cache)  # the model is there: only the package is missing
    monkeypatch.setitem(sys.modules, "comet", None)  # import comet raises ImportError
    with pytest.warns(UserWarning) as caught:
        scoring = dataset_scoring("alt-e-to-j", ["bleu_ja", "comet_wmt22"])
    (message,) = [str(w.message) for w in caught]
    assert message.startswith("alt-e-to-j: COMET (comet_wmt22) is not used, the unbabel-comet package is not "
                              "importable (ModuleNotFoundError")
    assert "pip install 'ckptlens[comet]'" in message and "scored by bleu_ja instead" in message
    assert "\n" not in message and "cache" not in message  # the package is what is missing, not the model
    assert scoring.metrics == ("bleu_ja",) and scoring.comet_model is None


def test_without_the_model_mt_says_where_it_looked_and_uses_bleu(fake_comet, hub_cache):
    with pytest.warns(UserWarning) as caught:
        scoring = dataset_scoring("wikicorpus-j-to-e", ["bleu_en", "comet_wmt22"])
    (message,) = [str(w.message) for w in caught]
    assert message.startswith("wikicorpus-j-to-e: COMET (comet_wmt22) is not used, the Unbabel/wmt22-comet-da model "
                              f"is not in the Hugging Face cache ({hub_cache})")
    assert "--comet-model DIR or $CKPTLENS_COMET_MODEL" in message and message.endswith("scored by bleu_en instead")
    assert "\n" not in message
    assert scoring.metrics == ("bleu_en",) and scoring.comet_model is None


def test_with_package_and_model_mt_is_scored_by_comet_from_source_prediction_and_gold(fake_comet, tmp_path):
    folder = write_mt_dataset(tmp_path / "evaluation")
    model = write_model_folder(tmp_path / "wmt22-comet-da")
    (task,) = load_llm_jp_eval(f"llm-jp-eval:{folder}/alt-e-to-j", LlmJpEvalOptions(num_fewshot=1, comet_model=model))
    assert task.metrics == ("comet_wmt22", "bleu_ja") and task.comet_model.endswith("model.ckpt")
    assert [e.source for e in task.examples] == [i for i, _ in MT_SAMPLES[2:]]  # the input as it is: no NFKC
    predictions = ["パリは都市", "1たす2", ""]
    golds = [e.target for e in task.examples]
    sources = [e.source for e in task.examples]
    rows = score_examples(task.metrics, predictions, golds, sources, task.comet_model)
    rows_again = score_examples(task.metrics, predictions[:1], golds[:1], sources[:1], task.comet_model)
    assert [r["comet_wmt22"] for r in rows] == [fake_score(s, p, g) for s, p, g in zip(sources, predictions, golds)]
    assert list(rows[0]) == ["comet_wmt22", "bleu_ja"] and rows_again[0] == rows[0]
    assert len(fake_comet.loads) == 1 and fake_comet.loads[0][1] == {"local_files_only": True}  # loaded once
    first = fake_comet.calls[0]
    assert first["samples"][1] == {"src": "one plus two", "mt": "1たす2", "ref": "1たす2"}  # gold NFKC
    assert (first["gpus"], first["progress_bar"]) == (int(torch.cuda.is_available()), False)
    assert len(fake_comet.calls) == 2  # one predict per batch of examples


def test_comet_needs_its_model_and_the_sources():
    with pytest.raises(CkptlensError, match="needs the COMET checkpoint and each example's source"):
        score_examples(["comet_wmt22"], ["a"], ["a"])


def test_a_checkpoint_that_does_not_load_is_a_one_line_error(fake_comet, tmp_path):
    with pytest.raises(CkptlensError, match=r"^COMET checkpoint .*gone.ckpt does not load \(Exception: Inv") as caught:
        comet_scorer(str(tmp_path / "gone.ckpt"))
    assert "\n" not in str(caught.value)
