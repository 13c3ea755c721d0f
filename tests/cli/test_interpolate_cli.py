"""``ckptlens interpolate``: the API's path written as CSV and PNG, the barrier table on stdout."""

import csv

from transformers import LlamaConfig, LlamaForCausalLM

from ckptlens.diagnostics.interpolation import interpolation_path
from ckptlens.tasks.task_file import load_task, perplexity_task
from tests.cli.conftest import write_mc_task
from tests.conftest import build_tiny_model, build_tokenizer


def test_interpolate_writes_the_path_and_prints_barriers(cli, tiny_series, tmp_path):
    task = write_mc_task(tmp_path / "colours.jsonl")
    (tmp_path / "valid.txt").write_text("the cat runs . the dog sleeps . red blue green .")
    a, b = tiny_series / "step000030", tiny_series / "step000040"
    code, out, err = cli("interpolate", a, b, "--tasks", f"{task},{tmp_path / 'valid.txt'}", "--points", "3",
                         "--out", tmp_path / "interp", "--device", "cpu")
    assert code == 0, err
    with (tmp_path / "interp" / "interpolation.csv").open() as f:
        written = [(float(r["alpha"]), r["task"], r["metric"], float(r["value"])) for r in csv.DictReader(f)]
    expected = interpolation_path(a, b, [load_task(task), perplexity_task(tmp_path / "valid.txt")], points=3)
    assert written == [(p.alpha, p.task, p.metric, p.value) for p in expected]
    assert (tmp_path / "interp" / "interpolation.png").read_bytes()[:4] == b"\x89PNG"
    assert "midpoint gain" in out and "colours" in out and "valid" in out


def test_interpolate_between_different_shapes_is_a_one_line_error(cli, tiny_series, tmp_path):
    tokenizer = build_tokenizer()
    model = build_tiny_model(len(tokenizer), seed=0)
    narrow = LlamaForCausalLM(LlamaConfig(**{**model.config.to_dict(), "intermediate_size": 48}))
    narrow.save_pretrained(tmp_path / "narrow")
    tokenizer.save_pretrained(tmp_path / "narrow")
    (tmp_path / "valid.txt").write_text("the cat runs .")
    valid = tmp_path / "valid.txt"
    code, _, err = cli("interpolate", tiny_series / "step000010", tmp_path / "narrow", "--tasks", valid)
    assert code == 2 and "down_proj.weight is F32[32, 48] in narrow" in err and "Traceback" not in err
