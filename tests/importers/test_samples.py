"""Samples lines in every shape lm-eval has written: string or numeric responses, index or text targets."""

from __future__ import annotations

import json

import pytest

from ckptlens.importers.columnar import read_columnar
from ckptlens.importers.lines import parse_sample
from ckptlens.importers.samples import _read_line_by_line, read_samples
from tests.importers.lm_eval_files import ChoiceSample, GenerationSample


def write_lines(path, lines, **dumps):
    path.write_text("".join(json.dumps(line, **dumps) + "\n" for line in lines))
    return path


def read_lists(path) -> dict[str, list]:
    return {name: values.to_pylist() for name, values in read_samples(path).columns.items()}


@pytest.mark.parametrize("samples", [
    [ChoiceSample(i, f"q{i}", ["a", "b", "c"][: 2 + i % 2], gold=i % 2, logliks=[-1.0 * i, -2.0, -0.5][: 2 + i % 2])
     for i in range(6)],
    [GenerationSample(i, f"{i}+1", str(i + 1), str(i + i % 2)) for i in range(4)],
])
def test_fast_and_line_by_line_paths_agree(tmp_path, samples):
    lines = [json.dumps(s.line()).encode() for s in samples]
    fast, slow = read_columnar(lines, tmp_path), _read_line_by_line(lines, tmp_path)
    assert fast is not None and (fast.kind, fast.filter, fast.task_hash) == (slow.kind, slow.filter, slow.task_hash)
    assert {k: v.to_pylist() for k, v in fast.columns.items()} == {k: v.to_pylist() for k, v in slow.columns.items()}


def test_lean_and_whole_parses_agree():
    line = ChoiceSample(3, "q", ["a", "b", "c"], gold=2, logliks=[-3.0, -1.0, -2.0]).line()
    lean = parse_sample(json.dumps(line).encode())
    assert "doc" not in lean and "arguments" not in lean
    assert {k: line[k] for k in lean} == lean


@pytest.mark.parametrize("dumps", [{}, {"separators": (",", ":")}, {"sort_keys": True}])
def test_any_key_order_or_spacing_reads_the_same(tmp_path, dumps):
    samples = [ChoiceSample(i, "q", ["a", "b"], gold=i % 2, logliks=[-1.0, -1.5 + i]) for i in range(3)]
    columns = read_lists(write_lines(tmp_path / "s.jsonl", [s.line() for s in samples], **dumps))
    assert columns["pred"] == [0, 1, 1] and columns["gold"] == [0, 1, 0] and columns["correct"] == [True, True, False]


def test_text_target_is_looked_up_among_the_choices(tmp_path):
    line = ChoiceSample(0, "q", ["red", "blue"], gold=1, logliks=[-2.0, -1.0]).line()
    line["target"] = "blue"
    columns = read_lists(write_lines(tmp_path / "s.jsonl", [line]))
    assert (columns["gold"], columns["correct"]) == ([1], [True])


def test_numeric_responses_of_early_0_4_versions(tmp_path):
    line = ChoiceSample(0, "q", ["a", "b"], gold=0, logliks=[-2.0, -1.0]).line()
    line["filtered_resps"] = [[-2.0, False], [-1.0, True]]
    line["target"] = 0
    line["arguments"] = [["ctx", " a"], ["ctx", " b"]]
    columns = read_lists(write_lines(tmp_path / "s.jsonl", [line]))
    assert columns["logliks"] == [[-2.0, -1.0]] and columns["pred"] == [1] and columns["correct"] == [False]


def test_shared_continuation_target_uses_lm_evals_acc(tmp_path):
    """Winogrande: options differ in context, the logged target is the shared continuation."""
    line = ChoiceSample(0, "q", ["to be fixed", "to be fixed"], gold=0, logliks=[-2.0, -1.0]).line()
    line["target"], line["acc"] = "to be fixed", 0.0
    columns = read_lists(write_lines(tmp_path / "s.jsonl", [line]))
    assert (columns["pred"], columns["gold"], columns["correct"]) == ([1], [0], [False])


def test_only_the_first_filter_is_kept(tmp_path):
    lines = [ChoiceSample(0, "q", ["a", "b"], 0, [-1.0, -2.0], filter=f).line() for f in ("strict", "flexible")]
    result = read_samples(write_lines(tmp_path / "s.jsonl", lines))
    assert result.filter == "strict" and len(result) == 1
