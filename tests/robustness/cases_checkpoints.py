"""Damaged checkpoint files, read by ``eval``, ``average`` and ``drift``."""

from __future__ import annotations

import json

from tests.robustness.helpers import FIRST, copy_series, edit_header, header, shard, weights, write, write_safetensors

EVAL = ["eval", "{tmp}/series", "--tasks", "{task}", "--store", "{store}", "--run", "bad", "--device", "cpu"]
AVERAGE = ["average", "{tmp}/series", "--window", "2", "--out", "{tmp}/avg"]
DRIFT = ["drift", "{tmp}/series"]
COMMANDS = {"eval": EVAL, "average": AVERAGE, "drift": DRIFT}


def truncate(tmp, series):
    path = weights(tmp, series)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def cut_to_prefix(tmp, series):
    weights(tmp, series).write_bytes(b"\x10\x00\x00")


def length_too_long(tmp, series):
    path = weights(tmp, series)
    head, data = header(path)
    write_safetensors(path, head, data, length=len(json.dumps(head)) + len(data) + 100)


def length_too_short(tmp, series):
    path = weights(tmp, series)
    head, data = header(path)
    write_safetensors(path, head, data, length=len(json.dumps(head)) // 2)


def huge_length(tmp, series):
    path = weights(tmp, series)
    head, data = header(path)
    write_safetensors(path, head, data, length=2**63)


def header_list(tmp, series):
    path = weights(tmp, series)
    _, data = header(path)
    write_safetensors(path, b"[1, 2, 3]", data)


def unknown_dtype(tmp, series):
    edit_header(tmp, series, lambda entry: entry.update(dtype="F4"))


def offsets_beyond_file(tmp, series):
    edit_header(tmp, series, lambda entry: entry.update(data_offsets=[0, 10**12]))


def no_offsets(tmp, series):
    edit_header(tmp, series, lambda entry: entry.pop("data_offsets"))


def shape_not_list(tmp, series):
    edit_header(tmp, series, lambda entry: entry.update(shape="32x64"))


def wrong_shape_size(tmp, series):
    edit_header(tmp, series, lambda entry: entry.update(shape=[entry["shape"][0] + 1, *entry["shape"][1:]]))


def index_not_json(tmp, series):
    write(shard(tmp, series), '{"weight_map": {')


def index_without_map(tmp, series):
    write(shard(tmp, series), '{"metadata": {}}')


def index_missing_shard(tmp, series):
    index = shard(tmp, series)
    (index.parent / "model-00001-of-00001.safetensors").unlink()


def garbage_weights(tmp, series):
    weights(tmp, series).write_bytes(b"not a safetensors file at all, just text" * 10)


def empty_weights(tmp, series):
    weights(tmp, series).write_bytes(b"")


def no_weights(tmp, series):
    weights(tmp, series).unlink()


DAMAGES = {
    "truncated-safetensors": (truncate, "model.safetensors"),
    "safetensors-cut-in-length-prefix": (cut_to_prefix, "model.safetensors"),
    "header-length-too-long": (length_too_long, "model.safetensors"),
    "header-length-too-short": (length_too_short, "model.safetensors"),
    "header-length-huge": (huge_length, "model.safetensors"),
    "header-not-an-object": (header_list, "model.safetensors"),
    "unknown-dtype": (unknown_dtype, "'F4'"),
    "offsets-beyond-file": (offsets_beyond_file, "model.safetensors"),
    "header-entry-without-offsets": (no_offsets, "model.safetensors"),
    "header-shape-not-a-list": (shape_not_list, "model.safetensors"),
    "header-shape-disagrees-with-bytes": (wrong_shape_size, "model.safetensors"),
    "index-json-does-not-parse": (index_not_json, "model.safetensors.index.json"),
    "index-json-without-weight-map": (index_without_map, "model.safetensors.index.json"),
    "index-names-a-missing-shard": (index_missing_shard, "model-00001-of-00001.safetensors"),
    "weights-file-is-text": (garbage_weights, "model.safetensors"),
    "weights-file-empty": (empty_weights, "model.safetensors"),
    "no-weights": (no_weights, FIRST),
}

CASES = [
    {"id": f"{command}-{name}", "args": args, "setup": damage, "exit_code": 2, "stderr_contains": [FIRST, fragment]}
    for name, (damage, fragment) in DAMAGES.items()
    for command, args in COMMANDS.items()
]


def broken_pickle(tmp, series):
    folder = weights(tmp, series).parent
    (folder / "model.safetensors").unlink()
    write(folder / "pytorch_model.bin", b"\x80\x04\x95 this is not a pickle")


def truncated_pickle(tmp, series):
    import torch

    folder = weights(tmp, series).parent
    (folder / "model.safetensors").unlink()
    torch.save({"w": torch.zeros(3)}, folder / "pytorch_model.bin")
    data = (folder / "pytorch_model.bin").read_bytes()
    (folder / "pytorch_model.bin").write_bytes(data[: len(data) // 2])


def config(text):
    def setup(tmp, series):
        write(copy_series(tmp, series) / FIRST / "config.json", text)

    return setup


def no_tokenizer(tmp, series):
    folder = copy_series(tmp, series) / FIRST
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (folder / name).unlink(missing_ok=True)


def series_manifest(text):
    def setup(tmp, series):
        write(copy_series(tmp, series) / "manifest.json", text)

    return setup


def other_architecture(tmp, series):
    edit_header(tmp, series, lambda entry: None)  # copy only
    path = weights(tmp, series, "step000020")
    head, data = header(path)
    name = sorted(k for k in head if k != "__metadata__")[0]
    head[f"{name}.extra"] = dict(head[name])
    write_safetensors(path, head, data)


CASES += [
    {"id": "eval-allow-pickle-broken-pickle", "args": [*EVAL, "--allow-pickle"], "setup": broken_pickle,
     "exit_code": 2, "stderr_contains": [FIRST]},
    {"id": "eval-allow-pickle-truncated-pickle", "args": [*EVAL, "--allow-pickle"], "setup": truncated_pickle,
     "exit_code": 2, "stderr_contains": [FIRST]},
    {"id": "eval-pickle-without-allow-pickle", "args": EVAL, "setup": broken_pickle,
     "exit_code": 2, "stderr_contains": [FIRST, "--allow-pickle"]},
    {"id": "eval-config-json-does-not-parse", "args": EVAL, "setup": config('{"model_type": "llama",'),
     "exit_code": 2, "stderr_contains": [FIRST, "config.json"]},
    {"id": "eval-config-json-unknown-model-type", "args": EVAL, "setup": config('{"model_type": "no-such-arch"}'),
     "exit_code": 2, "stderr_contains": [FIRST]},
    {"id": "eval-config-json-not-an-object", "args": EVAL, "setup": config("[1, 2]"),
     "exit_code": 2, "stderr_contains": [FIRST]},
    {"id": "eval-no-tokenizer", "args": EVAL, "setup": no_tokenizer, "exit_code": 2, "stderr_contains": [FIRST]},
    {"id": "eval-series-manifest-does-not-parse", "args": EVAL, "setup": series_manifest('{"checkpoints": ['),
     "exit_code": 2, "stderr_contains": ["manifest.json", "not valid JSON"]},
    {"id": "eval-series-manifest-bad-rows", "args": EVAL, "setup": series_manifest('{"checkpoints": [{"x": 1}, 3]}'),
     "exit_code": 2, "stderr_contains": ["manifest.json"]},
    {"id": "average-series-manifest-does-not-parse", "args": AVERAGE, "setup": series_manifest("{"),
     "exit_code": 2, "stderr_contains": ["manifest.json"]},
    {"id": "average-other-architecture", "args": AVERAGE, "setup": other_architecture,
     "exit_code": 2, "stderr_contains": ["step000020"]},
    {"id": "average-output-manifest-does-not-parse",
     "args": ["average", "{series}", "--window", "2", "--out", "{tmp}/avg"],
     "setup": lambda tmp, series: write(tmp / "avg" / "manifest.json", "{]"),
     "exit_code": 2, "stderr_contains": ["avg/manifest.json"]},
    {"id": "average-out-is-a-file", "args": ["average", "{series}", "--window", "2", "--out", "{tmp}/avg"],
     "setup": lambda tmp, series: write(tmp / "avg", "a file"), "exit_code": 2, "stderr_contains": ["{tmp}/avg"]},
]
