"""Local discovery of every checkpoint naming scheme, and the --steps / --last filters."""

import json

import pytest

from ckptlens.checkpoints import discover_series, filter_series, open_series, parse_fraction, parse_step_range
from ckptlens.errors import CkptlensError


def make_folders(root, names):
    for name in names:
        (root / name).mkdir(parents=True)
        (root / name / "config.json").write_text(json.dumps({}))
    (root / "runs").mkdir()  # not a checkpoint
    (root / "step9.txt").write_text("")  # a file, not a folder: not a checkpoint
    return root


def test_a_checkpoint_folder_without_config_is_an_error_or_a_gap_with_skip_incomplete(tmp_path):
    root = make_folders(tmp_path / "s", ["step100", "step300", "step400"])
    (root / "step200").mkdir()
    with pytest.raises(CkptlensError, match=r"step200 has no config.json.*--skip-incomplete"):
        discover_series(root)
    series = discover_series(root, skip_incomplete=True)
    assert [(c.step, c.follows_gap) for c in series] == [(100, False), (300, True), (400, False)]
    kept = filter_series(series, steps="100,400")  # the gap lies between the kept ones
    assert [(c.step, c.follows_gap) for c in kept] == [(100, False), (400, True)]


@pytest.mark.parametrize(
    ("names", "steps"),
    [
        (["checkpoint-500", "checkpoint-1000", "checkpoint-1500"], [500, 1000, 1500]),
        (["iter_0001000", "iter_0000500"], [500, 1000]),
        (["global_step20", "global_step10"], [10, 20]),
        (["step100", "step20", "step3"], [3, 20, 100]),
    ],
)
def test_local_naming_schemes_sort_by_step(tmp_path, names, steps):
    assert [c.step for c in discover_series(make_folders(tmp_path / "s", names))] == steps


def test_tokens_seen_come_from_olmo_style_names(tmp_path):
    series = discover_series(make_folders(tmp_path / "s", ["stage1-step1000-tokens4B", "stage1-step2000-tokens8B"]))
    assert [(c.step, c.tokens_seen) for c in series] == [(1000, 4_000_000_000), (2000, 8_000_000_000)]


def test_step_filter_and_last_fraction_on_a_local_series(tmp_path):
    root = make_folders(tmp_path / "s", [f"checkpoint-{s}" for s in range(500, 5001, 500)])
    assert [c.step for c in open_series(root, steps="1000:5000:1000")] == [1000, 2000, 3000, 4000, 5000]
    assert [c.step for c in open_series(root, last=parse_fraction("20%"))] == [4000, 4500, 5000]
    assert [c.step for c in open_series(root, steps="1000:5000:1000", last=0.2)] == [4000, 5000]


@pytest.mark.parametrize(("text", "kept"), [("::2", [0, 2, 4]), ("3:", [3, 4, 5]), (":2", [0, 1, 2]), ("1,5", [1, 5])])
def test_step_range_forms(text, kept):
    keep = parse_step_range(text)
    assert [s for s in range(6) if keep(s)] == kept


@pytest.mark.parametrize("text", ["a:b", "1:2:3:4", "1:10:0"])
def test_bad_step_ranges_are_one_line_errors(text):
    with pytest.raises(CkptlensError, match="--steps|step interval"):
        parse_step_range(text)


@pytest.mark.parametrize("text", ["0", "150%", "abc", "-0.2"])
def test_bad_fractions_are_refused(text):
    with pytest.raises(CkptlensError, match="--last"):
        parse_fraction(text)


def test_empty_selection_lists_the_steps_there_are(tmp_path):
    series = discover_series(make_folders(tmp_path / "s", ["step100", "step200"]))
    with pytest.raises(CkptlensError, match="keeps no checkpoint; the series has steps 100, 200"):
        filter_series(series, steps="300:400")
