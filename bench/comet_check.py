"""ckptlens's per-example COMET scores vs unbabel-comet's own ``predict``, on a tiny COMET model built here.

    python bench/comet_check.py --install      # first time: builds bench/.envs/comet-2.2.7
    python bench/comet_check.py [--examples 40]

unbabel-comet 2.2.7 pins numpy<2, transformers<5, huggingface_hub<1 and torchmetrics<0.11, so it lives in the
benchmark's own environment (a venv that sees this interpreter's packages, with comet's pins installed on top);
ckptlens runs there too, as a user of ``ckptlens[comet]`` would run it. Nothing is downloaded from a model hub:

1. a tiny XLM-R encoder (2 layers, width 32) with a Unigram tokenizer trained here with ``tokenizers``, and on it
   COMET's ``RegressionMetric`` as wmt22-comet-da is configured (layer mix, average pooling, a feed-forward
   estimator over [mt, ref, mt*ref, |mt-ref|, mt*src, |mt-src|]), random weights, saved as COMET saves a model
   (``hparams.yaml`` and ``checkpoints/model.ckpt``);
2. an llm-jp-eval result file of one MT dataset (alt-e-to-j: ``input``, ``pred``, ``gold``), imported with
   ``ckptlens import llm-jp-eval --comet-model MODEL``;
3. comet's ``load_from_checkpoint(...).predict`` on the same file, given what llm-jp-eval gives it (``src``: the
   input, ``mt``: the first paragraph of the prediction, NFKC, stripped; ``ref``: the gold, NFKC).

Printed: the examples, how many per-example scores differ, the largest difference, and that the model loaded
from the checkpoint scores as the model that was saved. Acceptance: 0 differences.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
import unicodedata
from pathlib import Path

PACKAGES = ("unbabel-comet==2.2.7", "setuptools<81", "pyarrow<26")  # pkg_resources for torchmetrics 0.10; numpy 1
ENV = Path(__file__).parent / ".envs" / "comet-2.2.7"
SRC = Path(__file__).resolve().parents[1] / "src"
BUILD = r"""
import json, random, sys, torch, yaml
from pathlib import Path
import pytorch_lightning as pl
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast
from comet.models import RegressionMetric

root, corpus = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # XLM-R's ids 0..3, then the mask
tok = Tokenizer(models.Unigram())
tok.normalizer = normalizers.NFKC()
tok.pre_tokenizer = pre_tokenizers.Metaspace()
tok.train_from_iterator(corpus, trainers.UnigramTrainer(vocab_size=300, special_tokens=special, unk_token="<unk>"))
tok.post_processor = processors.TemplateProcessing(
    single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
tokenizer = XLMRobertaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                    cls_token="<s>", pad_token="<pad>", unk_token="<unk>", mask_token="<mask>")
torch.manual_seed(0)
config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=64, max_position_embeddings=130, type_vocab_size=1, pad_token_id=1,
                          bos_token_id=0, eos_token_id=2)
encoder = root / "encoder"
XLMRobertaModel(config, add_pooling_layer=False).save_pretrained(encoder)
tokenizer.save_pretrained(encoder)
model = RegressionMetric(pretrained_model=str(encoder), encoder_model="XLM-RoBERTa", layer="mix",
                         layer_transformation="sparsemax", pool="avg", hidden_sizes=[64, 32], activations="Tanh",
                         final_activation=None, load_pretrained_weights=True)
for p in model.estimator.parameters():  # random, but away from zero so the scores spread
    torch.nn.init.normal_(p, std=0.5)
folder = root / "tiny-comet-da"
(folder / "checkpoints").mkdir(parents=True)
hparams = dict(model.hparams)
(folder / "hparams.yaml").write_text(yaml.safe_dump(hparams))
torch.save({"state_dict": model.state_dict(), "hyper_parameters": hparams, "epoch": 0, "global_step": 0,
            "pytorch-lightning_version": pl.__version__}, folder / "checkpoints" / "model.ckpt")
samples = json.loads(Path(sys.argv[3]).read_text(encoding="utf-8"))
scores = model.predict(samples, batch_size=16, gpus=0, progress_bar=False).scores
print(json.dumps(scores))
"""
PREDICT = r"""
import json, sys, unicodedata
from pathlib import Path
from comet import load_from_checkpoint

result = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
nfkc = lambda text: unicodedata.normalize("NFKC", text)
samples = [{"src": o["input"], "mt": nfkc(o["pred"].split("\n\n")[0]).strip(), "ref": nfkc(o["gold"])}
           for o in result["outputs"]["alt-e-to-j"]]
model = load_from_checkpoint(sys.argv[1])
scores = model.predict(samples, batch_size=16, gpus=0, progress_bar=False).scores
print(json.dumps({"samples": samples, "scores": scores}))
"""
ENGLISH = ("the cat runs in the garden", "a small dog sleeps", "the river is cold today", "Paris is a city",
           "one plus two is three", "the red bird flies over the market", "old houses by the harbour")
JAPANESE = ("猫が庭で走る", "小さな犬が寝ている", "今日は川が冷たい", "パリは都市だ", "一足す二は三",
            "赤い鳥が市場の上を飛ぶ", "港のそばの古い家", "ＡＢＣ社は東京にある", "１２３")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help=f"create {ENV} and pip install {PACKAGES} there")
    parser.add_argument("--examples", type=int, default=40)
    args = parser.parse_args()
    if args.install:
        install()
    python = ENV / "bin" / "python"
    if not python.is_file():
        sys.exit(f"no comet environment at {ENV}; run again with --install")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        result = write_result_file(root / "results" / "result_step100.json", args.examples, random.Random(0))
        saved = build_model(python, root)
        model = root / "tiny-comet-da"
        ours = import_scores(python, root, model)
        theirs = json.loads(run(python, "-c", PREDICT, str(model / "checkpoints" / "model.ckpt"), str(result)))
    scores = theirs["scores"]
    differ = [i for i, (a, b) in enumerate(zip(ours, scores, strict=True)) if a != b]
    largest = max(abs(a - b) for a, b in zip(ours, scores, strict=True))
    reload_gap = max(abs(a - b) for a, b in zip(saved, scores, strict=True))
    print(f"examples: {len(scores)}  COMET scores from {min(scores):.4f} to {max(scores):.4f}")
    print(f"ckptlens vs comet predict: {len(differ)} differ, largest difference {largest:.3g}")
    print(f"saved model vs loaded checkpoint: largest difference {reload_gap:.3g}")


def install() -> None:
    """A venv that sees this interpreter's packages, with unbabel-comet and its pins installed on top."""
    subprocess.run([sys.executable, "-m", "venv", str(ENV)], check=True)
    site = next((ENV / "lib").glob("python*/site-packages"))
    (site / "ckptlens_base.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(ENV / "bin" / "python"), "-m", "pip", "install", "-q", *PACKAGES], check=True)


def write_result_file(path: Path, n: int, rng: random.Random) -> Path:
    """An llm-jp-eval result file with one MT dataset: made-up inputs, predictions (some with a second paragraph
    or full-width characters, some empty) and golds."""
    outputs = []
    for _ in range(n):
        gold = rng.choice(JAPANESE)
        pred = rng.choice([gold, rng.choice(JAPANESE), gold[: len(gold) // 2], "", gold + "\n\n### 入力:"])
        outputs.append({"input": rng.choice(ENGLISH), "pred": pred, "gold": gold})
    data = {"config": {"model": {"pretrained_model_name_or_path": "/models/tiny/step100"}},
            "scores": {}, "outputs": {"alt-e-to-j": outputs}}
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def build_model(python: Path, root: Path) -> list[float]:
    """The tiny COMET model under ``root``; returns its scores, before saving, on the result file's samples."""
    corpus = root / "corpus.json"
    corpus.write_text(json.dumps([*ENGLISH, *JAPANESE] * 4, ensure_ascii=False), encoding="utf-8")
    result = json.loads((root / "results" / "result_step100.json").read_text(encoding="utf-8"))
    samples = root / "samples.json"
    triples = [{"src": o["input"], "mt": nfkc(o["pred"].split("\n\n")[0]).strip(), "ref": nfkc(o["gold"])}
               for o in result["outputs"]["alt-e-to-j"]]
    samples.write_text(json.dumps(triples, ensure_ascii=False), encoding="utf-8")
    return json.loads(run(python, "-c", BUILD, str(root), str(corpus), str(samples)))


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def import_scores(python: Path, root: Path, model: Path) -> list[float]:
    """``ckptlens import llm-jp-eval --comet-model`` in the comet environment; each example's stored score."""
    store = root / "store"
    run(python, "-m", "ckptlens", "import", "llm-jp-eval", str(root / "results"), "--store", str(store),
        "--comet-model", str(model))
    read = ("import json, sys; from ckptlens.store import Store; rows = Store(sys.argv[1]).read().to_pylist(); "
            "rows.sort(key=lambda r: int(r['example_id'])); "
            "print(json.dumps([dict(r['metrics'])['comet_wmt22'] for r in rows]))")
    return json.loads(run(python, "-c", read, str(store)))


def run(python: Path, *args: str) -> str:
    """A command in the comet environment with this checkout's ckptlens; its stdout's last line ('' if none)."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([str(python), *args], capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"{args[:3]} failed:\n{done.stderr[-3000:]}")
    return (done.stdout.strip().splitlines() or [""])[-1]


if __name__ == "__main__":
    main()
