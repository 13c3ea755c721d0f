"""Average 4 checkpoints of a ~100M-parameter model with mergekit `linear` and with ckptlens; then a sliding window.

    python bench/mergekit_compare.py --install          # first time: venv bench/.envs/mergekit with mergekit
    python bench/mergekit_compare.py [--work DIR] [--keep]

Figure 1 (4 float32 checkpoints of a Llama-shaped model built from a config,
random weights): largest absolute difference between the two averages, wall
time of both CLIs and their ratio, ckptlens's peak memory, and ckptlens's read
rate against `cat` of the same input files. Every timing runs with the page
cache warm (the inputs are `cat` once first) and starts after `sync`, so no
run is throttled by dirty pages an earlier one left: it compares compute and
copy overheads, not the disk. The I/O floor adds the time `dd` takes to write
one model's bytes to a new file (an average must write its output).

Figure 2 (32 checkpoints of a smaller model, trailing window n=8): bytes read
per output checkpoint by ckptlens's running sum against the naive n reads.

mergekit lives in its own venv because its pins differ from ckptlens's; torch
is installed first from the local wheel (the CPU build) so pip does not pull a
CUDA build. Combination that works (2026-11): torch 2.13.0+cpu, mergekit 0.1.5,
transformers 5.23.0, safetensors 0.8.0, accelerate 1.15.0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import LlamaConfig

BENCH = Path(__file__).resolve().parent
MERGEKIT_ENV = BENCH / ".envs" / "mergekit"
MERGEKIT_YAML = MERGEKIT_ENV / "bin" / "mergekit-yaml"
# ~97M parameters: 12 layers of width 768, untied 8192-token embedding and head.
BIG = {"hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12, "num_attention_heads": 12,
       "num_key_value_heads": 12, "vocab_size": 8192, "tie_word_embeddings": False}
# ~6M parameters, for the 32-checkpoint sliding window.
SMALL = {**BIG, "hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4, "num_attention_heads": 4,
         "num_key_value_heads": 4}
PEAK_PROBE = """
import json, sys, threading, time
from pathlib import Path
from ckptlens.averaging import average_checkpoints, average_series
from ckptlens.checkpoints import discover_series
peak = {"VmRSS": 0, "RssAnon": 0}
done = False
def sample():
    while not done:
        for line in open("/proc/self/status"):
            key, _, value = line.partition(":")
            if key in peak:
                peak[key] = max(peak[key], int(value.split()[0]) * 1024)
        time.sleep(0.002)
def anon():
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("RssAnon"))
baseline = anon()
thread = threading.Thread(target=sample)
if sys.argv[1] == "sample":
    thread.start()
start = time.perf_counter()
if sys.argv[3] == "window":
    average_series(discover_series(sys.argv[4]), 2, Path(sys.argv[2]))
else:
    average_checkpoints([Path(p) for p in sys.argv[3:]], Path(sys.argv[2]))
seconds = time.perf_counter() - start
done = True
if thread.is_alive():
    thread.join()
print(json.dumps({"seconds": seconds, "baseline": baseline, **peak}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="create bench/.envs/mergekit and install mergekit")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a new temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    if args.install:
        install_mergekit()
    if not MERGEKIT_YAML.is_file():
        sys.exit(f"mergekit is not installed in {MERGEKIT_ENV}; run with --install first")
    work = Path(args.work or tempfile.mkdtemp(prefix="ckptlens-mergekit-"))
    try:
        compare_with_mergekit(work)
        sliding_window_reads(work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def install_mergekit() -> None:
    """A venv of its own: torch 2.13.0 first (CPU wheel from the local index), then mergekit."""
    subprocess.run([sys.executable, "-m", "venv", str(MERGEKIT_ENV)], check=True)
    pip = [str(MERGEKIT_ENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "torch==2.13.0"], check=True)
    subprocess.run([*pip, "mergekit"], check=True)


def build_checkpoints(root: Path, shape: dict, count: int) -> list[Path]:
    """``count`` float32 HF folders (config.json + model.safetensors) of a Llama from ``shape``, random weights.

    Folders already there (``--work`` reused with ``--keep``) are kept.
    """
    config = LlamaConfig(**shape, dtype="float32", architectures=["LlamaForCausalLM"])
    with torch.device("meta"):
        names = {n: tuple(t.shape) for n, t in _meta_model(config).state_dict().items()}
    folders = []
    for seed in range(count):
        generator = torch.Generator().manual_seed(seed)
        folder = root / f"step{(seed + 1) * 100}"
        folders.append(folder)
        if (folder / "model.safetensors").is_file():
            continue
        folder.mkdir(parents=True)
        config.save_pretrained(folder)
        state = {n: torch.randn(s, generator=generator) * 0.02 for n, s in names.items()}
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folders


def _meta_model(config: LlamaConfig):
    from transformers import LlamaForCausalLM

    return LlamaForCausalLM(config)


def compare_with_mergekit(work: Path) -> None:
    inputs = build_checkpoints(work / "big", BIG, 4)
    files = [p / "model.safetensors" for p in inputs]
    input_bytes = sum(f.stat().st_size for f in files)
    warm = timed(["cat", *map(str, files)], stdout=subprocess.DEVNULL)  # warms the page cache
    cat_seconds = min(timed(["cat", *map(str, files)], stdout=subprocess.DEVNULL)[0] for _ in range(3))
    del warm
    write_seconds = min(timed(["dd", "if=/dev/zero", f"of={work / f'written-{i}'}", "bs=1M", "status=none",
                               f"count={files[-1].stat().st_size >> 20}"])[0] for i in range(3))  # fmt: skip

    config = work / "linear.yml"
    config.write_text(json.dumps({
        "merge_method": "linear", "dtype": "float32", "parameters": {"normalize": True},
        "models": [{"model": str(p), "parameters": {"weight": 1.0}} for p in inputs],
    }))
    for stale in ("mergekit-out", "ckptlens-out", "probe-out", "window-out"):
        shutil.rmtree(work / stale, ignore_errors=True)
    mk_seconds, mk_rss = timed([str(MERGEKIT_YAML), str(config), str(work / "mergekit-out"), "--quiet"])
    ck_seconds, ck_rss = timed([sys.executable, "-m", "ckptlens", "average", *map(str, inputs),
                                "--out", str(work / "ckptlens-out")])
    probe = {**best_of(3, lambda: peak_probe(work / "probe-out", *map(str, inputs), sample=False)),
             **peak_probe(work / "probe-out", *map(str, inputs), sample=True, keys=("baseline", "RssAnon", "VmRSS"))}
    window_probe = peak_probe(work / "window-out", "window", str(work / "big"), sample=True)

    diff, params, largest = max_difference(work / "mergekit-out", work / "ckptlens-out")
    model_bytes, largest_bytes = 4 * params, 4 * largest
    mib = 2**20
    print(f"figure 1: average of 4 float32 checkpoints, {params / 1e6:.1f}M parameters, "
          f"{input_bytes / mib:.0f} MiB read; page cache warm for every timing")
    print(f"  largest |mergekit - ckptlens|      {diff:.3g}  (acceptance < 1e-6)")
    print(f"  mergekit-yaml linear (CLI)         {mk_seconds:6.2f} s   peak RSS {mk_rss / mib:6.0f} MiB")
    print(f"  ckptlens average     (CLI)         {ck_seconds:6.2f} s   peak RSS {ck_rss / mib:6.0f} MiB")
    print(f"  time ratio ckptlens / mergekit     {ck_seconds / mk_seconds:6.2f}  (acceptance <= 1)")
    print(f"  ckptlens average_checkpoints (API, best of 3 fresh processes) {probe['seconds']:6.2f} s   "
          f"{input_bytes / probe['seconds'] / mib:6.0f} MiB/s read")
    print(f"  cat of the 4 inputs                {cat_seconds:6.2f} s   {input_bytes / cat_seconds / mib:6.0f} MiB/s; "
          f"API / cat = {probe['seconds'] / cat_seconds:.2f} (acceptance <= 2)")
    print(f"  ckptlens peak memory (API, own run, sampled every 2 ms): anonymous {probe['RssAnon'] / mib:.0f} MiB "
          f"({(probe['RssAnon'] - probe['baseline']) / mib:.0f} MiB above the {probe['baseline'] / mib:.0f} MiB "
          f"of the interpreter with torch loaded), RSS incl. mapped file pages {probe['VmRSS'] / mib:.0f} MiB")
    print(f"  sliding window n=2 over the 4 (3 outputs, float32 window sums kept): {window_probe['seconds']:.2f} s, "
          f"anonymous peak {window_probe['RssAnon'] / mib:.0f} MiB "
          f"({(window_probe['RssAnon'] - window_probe['baseline']) / mib:.0f} MiB above the interpreter)")
    budget = model_bytes + 2 * largest_bytes
    print(f"  budget: one model in float32 {model_bytes / mib:.0f} MiB + largest tensor {largest_bytes / mib:.0f} MiB "
          f"+ write buffer (the one tensor being written, at most the largest) {largest_bytes / mib:.0f} MiB "
          f"= {budget / mib:.0f} MiB; window peak / budget = "
          f"{(window_probe['RssAnon'] - window_probe['baseline']) / budget:.2f}")
    print(f"  I/O floor on this machine: cat of the inputs {cat_seconds:.2f} s + dd of "
          f"{model_bytes / mib:.0f} MiB (the output) {write_seconds:.2f} s = {cat_seconds + write_seconds:.2f} s; "
          f"API / floor = {probe['seconds'] / (cat_seconds + write_seconds):.2f}")


def best_of(runs: int, probe) -> dict:
    """The seconds of the fastest of ``runs`` probes (like the min over 3 ``cat`` runs)."""
    return {"seconds": min(probe()["seconds"] for _ in range(runs))}


def peak_probe(out: Path, *args: str, sample: bool, keys: tuple[str, ...] | None = None) -> dict:
    """Run ckptlens averaging in a fresh interpreter; seconds and, when ``sample``, memory peaks in bytes.

    The memory sampler is a thread reading /proc every 2 ms, which slows a 2-core
    machine, so timed runs go without it and memory comes from a run of its own.
    """
    shutil.rmtree(out, ignore_errors=True)
    os.sync()
    command = [sys.executable, "-c", PEAK_PROBE, "sample" if sample else "time", str(out), *args]
    result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    return {key: result[key] for key in keys} if keys else result


def timed(command: list[str], stdout=None) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one child process, started with no dirty pages pending."""
    os.sync()
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=stdout if stdout is not None else subprocess.PIPE,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{command[0]} failed: {process.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss * 1024


def max_difference(a: Path, b: Path) -> tuple[float, int, int]:
    """Largest absolute elementwise difference over all tensors, total parameters, largest tensor's size."""
    worst, total, largest = 0.0, 0, 0
    a_files, b_files = sorted(a.glob("*.safetensors")), sorted(b.glob("*.safetensors"))
    b_tensors: dict[str, tuple[Path, str]] = {}
    for file in b_files:
        with safe_open(str(file), framework="pt") as handle:
            b_tensors.update({n: (file, n) for n in handle.keys()})
    a_names = set()
    for file in a_files:
        with safe_open(str(file), framework="pt") as handle:
            for name in handle.keys():
                a_names.add(name)
                mine = handle.get_tensor(name)
                with safe_open(str(b_tensors[name][0]), framework="pt") as other:
                    theirs = other.get_tensor(name)
                worst = max(worst, (mine.double() - theirs.double()).abs().max().item())
                total += mine.numel()
                largest = max(largest, mine.numel())
    if a_names != b_tensors.keys():
        raise SystemExit(f"the two averages hold different tensors: {sorted(a_names ^ b_tensors.keys())[:3]}")
    return worst, total, largest


def sliding_window_reads(work: Path, count: int = 32, window: int = 8) -> None:
    from ckptlens.averaging import average_checkpoints, average_series, weights
    from ckptlens.checkpoints import discover_series

    build_checkpoints(work / "small", SMALL, count)
    for stale in ("sliding", "naive"):
        shutil.rmtree(work / stale, ignore_errors=True)
    series = discover_series(work / "small")
    checkpoint_bytes = (series[0].path / "model.safetensors").stat().st_size
    read = {"bytes": 0}
    real_get = weights.WeightReader.get

    def counting_get(self, tensor, **options):
        value = real_get(self, tensor, **options)
        read["bytes"] += value.numel() * value.element_size()
        return value

    weights.WeightReader.get = counting_get
    start = time.perf_counter()
    outputs = average_series(series, window, work / "sliding")
    sliding_seconds, sliding_bytes = time.perf_counter() - start, read["bytes"]
    read["bytes"] = 0
    start = time.perf_counter()
    for end in range(window - 1, count):
        average_checkpoints([c.path for c in series[end - window + 1 : end + 1]], work / "naive" / series[end].name)
    naive_seconds, naive_bytes = time.perf_counter() - start, read["bytes"]
    weights.WeightReader.get = real_get
    per_output = sliding_bytes / len(outputs) / checkpoint_bytes
    print(f"figure 2: trailing window n={window} over {count} checkpoints ({checkpoint_bytes / 2**20:.0f} MiB each), "
          f"{len(outputs)} outputs")
    print(f"  running sum: {per_output:.2f} checkpoint reads per output, "
          f"{sliding_bytes / (count * checkpoint_bytes):.2f} reads per input checkpoint, {sliding_seconds:.1f} s")
    print(f"  naive:       {naive_bytes / len(outputs) / checkpoint_bytes:.2f} checkpoint reads per output "
          f"(n={window}), {naive_seconds:.1f} s")


if __name__ == "__main__":
    main()
