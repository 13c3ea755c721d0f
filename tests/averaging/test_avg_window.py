"""average_series / average_checkpoints / iter_window_averages on toy safetensors folders."""

import json

import torch
from safetensors.torch import load_file

from ckptlens.averaging import RESUM_EVERY, average_checkpoints, average_series, iter_window_averages
from ckptlens.checkpoints import discover_series


def float64_mean(series, names, tensor):
    return torch.stack(
        [load_file(str(c.path / "model.safetensors"))[tensor].double() for c in series if c.name in names]
    ).mean(0)


def test_each_output_is_the_mean_of_its_trailing_window(toy_series, tmp_path):
    outputs = average_series(toy_series, 3, tmp_path / "avg")
    assert [c.step for c in outputs] == [300, 400, 500, 600]
    assert [c.tokens_seen for c in outputs] == [300_000, 400_000, 500_000, 600_000]
    for t, out in enumerate(outputs, start=2):
        members = {c.name for c in toy_series[t - 2 : t + 1]}
        state = load_file(str(out.path / "model.safetensors"))
        assert state["w"].dtype == torch.float32 and state["b"].dtype == torch.bfloat16
        assert torch.allclose(state["w"].double(), float64_mean(toy_series, members, "w"), rtol=0, atol=1e-6)
        assert torch.equal(state["b"], float64_mean(toy_series, members, "b").to(torch.bfloat16))
        assert torch.equal(state["pos"], torch.arange(6) + t)  # integer buffer from the newest member


def test_sliding_window_equals_direct_averages(toy_series, tmp_path):
    slid = average_series(toy_series, 3, tmp_path / "avg")
    for t, out in enumerate(slid, start=2):
        direct = average_checkpoints([c.path for c in toy_series[t - 2 : t + 1]], tmp_path / f"direct{t}")
        a, b = load_file(str(out.path / "model.safetensors")), load_file(str(direct / "model.safetensors"))
        assert a.keys() == b.keys()
        for name in a:
            assert torch.allclose(a[name].double(), b[name].double(), rtol=0, atol=1e-6), name


def test_sliding_rounding_stays_within_the_documented_bound(make_series, tmp_path):
    generator = torch.Generator().manual_seed(1)
    scales = torch.logspace(-4, 4, 64, dtype=torch.float64)
    states = [{"w": (torch.randn(64, generator=generator, dtype=torch.float64) * scales).float()} for _ in range(40)]
    series = make_series(tmp_path / "series", states)
    window, eps = 4, torch.finfo(torch.float32).eps
    stacked = torch.stack([s["w"].double() for s in states])
    for checkpoint, state in iter_window_averages(series, window):
        t = series.index(checkpoint)
        exact = stacked[t - window + 1 : t + 1].mean(0)
        largest_sum = stacked[max(0, t - window - RESUM_EVERY) : t + 1].abs().max(0).values * window
        bound = (RESUM_EVERY + 2) / 2 * eps * largest_sum / window + eps * exact.abs()
        assert torch.all((state["w"].double() - exact).abs() <= bound), checkpoint.name


def test_each_checkpoint_is_read_about_twice(make_series, tmp_path, read_counter):
    series = make_series(tmp_path / "series", [{"w": torch.full((3,), float(i))} for i in range(12)])
    average_series(series, 4, tmp_path / "avg")
    reads = [read_counter[(c.name, "w")] for c in series]
    assert reads == [2] * 8 + [1] * 4  # once entering the window, once leaving it


def test_finished_outputs_are_skipped_on_resume(toy_series, tmp_path, read_counter):
    out_dir = tmp_path / "avg"
    first = average_series(toy_series, 2, out_dir, steps=[600])
    stamp = (first[0].path / "model.safetensors").stat().st_mtime_ns
    (out_dir / ".tmp-step300.4242.0badf00d").mkdir()  # left by a crash: no finished output
    read_counter.clear()
    progress = []
    outputs = average_series(toy_series, 2, out_dir, progress=lambda done, total: progress.append((done, total)))
    assert (outputs[-1].path / "model.safetensors").stat().st_mtime_ns == stamp
    assert read_counter.get(("step600", "w"), 0) == 0  # only the skipped output used it
    assert progress[0] == (1, 5) and progress[-1] == (5, 5)
    finished = sorted(p.name for p in out_dir.iterdir() if not p.name.startswith("."))
    assert finished == ["manifest.json"] + [c.name for c in toy_series[1:]]


def test_manifest_lists_members_and_makes_the_folder_a_series(toy_series, tmp_path):
    average_series(toy_series, 3, tmp_path / "avg", stride=2)
    manifest = json.loads((tmp_path / "avg" / "manifest.json").read_text())
    assert manifest["method"] == "average" and manifest["window"] == 3
    assert manifest["source"] == str(toy_series[0].path.parent)
    assert manifest["checkpoints"] == [
        {"step": 300, "tokens_seen": 300_000, "members": ["step100", "step200", "step300"]},
        {"step": 500, "tokens_seen": 500_000, "members": ["step300", "step400", "step500"]},
    ]
    assert [(c.step, c.tokens_seen) for c in discover_series(tmp_path / "avg")] == [
        (300, 300_000),
        (500, 500_000),
    ]


def test_dtype_option_and_config_dtype(toy_series, tmp_path):
    out = average_checkpoints(toy_series[:2], tmp_path / "avg", dtype="float16")
    state = load_file(str(out / "model.safetensors"))
    assert state["w"].dtype == torch.float16 and state["b"].dtype == torch.float16
    assert state["pos"].dtype == torch.int64
    assert json.loads((out / "config.json").read_text())["dtype"] == "float16"


def test_sharded_input_gives_sharded_output(make_series, tmp_path):
    shards = {
        "w": "model-00001-of-00002.safetensors",
        "b": "model-00002-of-00002.safetensors",
        "pos": "model-00002-of-00002.safetensors",
    }
    series = make_series(
        tmp_path / "series",
        [{"w": torch.full((2,), float(i)), "b": torch.full((2,), 2.0 * i), "pos": torch.tensor([i])} for i in range(3)],
        shards,
    )
    out = average_series(series, 3, tmp_path / "avg")[0].path
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert index["weight_map"] == shards and index["metadata"]["total_size"] == 2 * 4 + 2 * 4 + 8
    assert torch.equal(load_file(str(out / shards["w"]))["w"], torch.full((2,), 1.0))
    assert torch.equal(load_file(str(out / shards["b"]))["pos"], torch.tensor([2]))


def test_two_averages_into_one_out_folder_both_finish_with_whole_outputs(toy_series, tmp_path):
    """Two commands writing one --out at once: unique temporary names, so neither writes into the other's
    folder; each output is renamed into place whole, and a finished one is kept, never half replaced."""
    from concurrent.futures import ThreadPoolExecutor

    out_dir = tmp_path / "avg"
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(average_series, toy_series, 2, out_dir) for _ in range(2)]
        outputs = [run.result() for run in runs]
    assert [c.name for c in outputs[0]] == [c.name for c in outputs[1]] == [c.name for c in toy_series[1:]]
    assert sorted(p.name for p in out_dir.iterdir()) == ["manifest.json"] + [c.name for c in toy_series[1:]]
    alone = average_series(toy_series, 2, tmp_path / "alone")
    for shared, single in zip(outputs[0], alone):
        weights = [load_file(c.path / "model.safetensors")["w"] for c in (shared, single)]
        assert torch.equal(*weights)
