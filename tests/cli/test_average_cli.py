"""`ckptlens average` (window, EMA, listed folders, filters); `eval` on a Hub series and with --average-window."""

import json
import shutil

import huggingface_hub
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from ckptlens.store import Store
from tests.cli.conftest import write_mc_task

WEIGHT = "model.layers.0.mlp.up_proj.weight"


def test_average_listed_folders_once(cli, tiny_series, tmp_path):
    folders = [tiny_series / "step000010", tiny_series / "step000040"]
    code, _, err = cli("average", *folders, "--out", tmp_path / "avg", "--dtype", "bfloat16")
    assert code == 0, err
    got = load_file(tmp_path / "avg" / "model.safetensors")[WEIGHT]
    expected = (
        load_file(folders[0] / "model.safetensors")[WEIGHT] + load_file(folders[1] / "model.safetensors")[WEIGHT]
    ) / 2
    assert got.dtype == torch.bfloat16 and torch.equal(got, expected.to(torch.bfloat16))
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "avg").dtype == torch.bfloat16


def test_ema_with_steps_and_last_filters(cli, tiny_series, tmp_path):
    code, _, err = cli(
        "average", tiny_series, "--ema", 0.5, "--steps", "20:40", "--last", "50%", "--out", tmp_path / "ema"
    )
    assert code == 0, err
    manifest = json.loads((tmp_path / "ema" / "manifest.json").read_text())
    assert [c["step"] for c in manifest["checkpoints"]] == [20, 30, 40]
    assert manifest["checkpoints"][-1]["members"] == ["step000020", "step000030", "step000040"]


def test_average_usage_errors_are_one_line(cli, tiny_series, tmp_path):
    for args, message in [
        ((tiny_series, "--window", 2, "--ema", 0.9), "either --window or --ema"),
        ((tiny_series,), "several checkpoint folders"),
        ((tiny_series, "--window", 9), "a window of 9 needs at least 9"),
        ((tiny_series, "--window", 2, "--steps", "1:2:0"), "step interval"),
    ]:
        code, _, err = cli("average", *args, "--out", tmp_path / "x")
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_eval_hub_series_from_the_offline_cache_then_in_memory_averages(cli, tiny_series, tmp_path, monkeypatch):
    repo = tmp_path / "hub" / "models--org--tiny"
    for i, folder in enumerate(sorted(tiny_series.glob("step*"))):
        shutil.copytree(folder, repo / "snapshots" / f"commit{i}")
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / f"step{(i + 1) * 100}").write_text(f"commit{i}")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub, "list_repo_refs", None)
    task, store = write_mc_task(tmp_path / "colors.jsonl", n=4), tmp_path / "store"
    code, _, err = cli(
        "eval", "hf://org/tiny", "--tasks", task, "--store", store, "--steps", "200:400", "--device", "cpu"
    )
    assert code == 0, err
    code, _, err = cli(
        "eval", "hf://org/tiny", "--tasks", task, "--store", store, "--average-window", 2, "--last", "0.3"
    )
    assert code == 0, err
    code, out, _ = cli("records", "--store", store, "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert {(r["run"], r["checkpoint"]) for r in rows} == {
        ("tiny", "step200"),
        ("tiny", "step300"),
        ("tiny", "step400"),
        ("tiny-avg2", "step300"),
        ("tiny-avg2", "step400"),
    }
    info = Store(store).run_info("tiny-avg2")
    assert (
        (info["averaged_from"], info["window"]) == (Store(store).run_info("tiny")["series"], 2) == ("hf://org/tiny", 2)
    )
