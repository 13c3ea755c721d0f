"""Tiny made-up datasets in llm-jp-eval's preprocessed layout: ``evaluation/{train,dev,test}/NAME.json``."""

from __future__ import annotations

import json
from pathlib import Path

INSTRUCTIONS = {
    "jnli": "前提と仮説の関係をentailment、contradiction、neutralの中から回答してください。",
    "jsquad": "質問に対する回答を文章から一言で抽出してください。",
    "chabsa": "与えられた文章から固有表現で書かれたターゲットの名前を抽出し、極性を答えてください。",
}
SAMPLES = {
    "jnli": [
        ("前提:猫が寝ている。\n仮説:動物が寝ている。", "entailment"),
        ("前提:犬が走る。\n仮説:犬が寝ている。", "contradiction"),
        ("前提:空が青い。\n仮説:今日は月曜日だ。", "neutral"),
        ("前提:雨が降る。\n仮説:天気が悪い。", "entailment"),
        ("前提:鳥が飛ぶ。\n仮説:鳥が泳ぐ。", "contradiction"),
    ],
    "jsquad": [
        ("文章:東京は日本の首都である。\n質問:日本の首都は?", "東京"),
        ("文章:富士山は日本一高い山だ。\n質問:日本一高い山は?", "富士山"),
        ("文章:大阪城は大阪にある。\n質問:大阪城はどこにある?", "大阪"),
        ("文章:京都には寺が多い。\n質問:寺が多いのは?", "京都"),
        ("文章:ＡＢＣ社は札幌にある。\n質問:ＡＢＣ社はどこ?", "札幌"),
    ],
    "chabsa": [
        ("文章:売上高は増加した。", "売上高 positive"),
        ("文章:利益は減少し、費用は増えた。", "利益 negative\n費用 negative"),
        ("文章:受注は横ばいだった。", "受注 neutral"),
        ("文章:株価は上昇した。", "株価 positive"),
        ("文章:在庫は減った。", "在庫 neutral"),
    ],
}
METRICS = {"jnli": ["exact_match"], "jsquad": ["char_f1"], "chabsa": ["set_f1"]}
OUTPUT_LENGTH = {"jnli": 3, "jsquad": 4, "chabsa": 5}


def write_datasets(root: Path) -> Path:
    """``root/evaluation`` with jnli (NLI), jsquad (RC) and chabsa (EL); train holds the demonstrations."""
    folder = root / "evaluation"
    for name, samples in SAMPLES.items():
        for split, chosen in (("train", samples[:4]), ("dev", samples[2:]), ("test", samples[:1])):
            data = {
                "instruction": INSTRUCTIONS[name],
                "output_length": OUTPUT_LENGTH[name],
                "metrics": METRICS[name],
                "few_shots": [],
                "samples": [{"input": i, "output": o} for i, o in chosen],
            }
            path = folder / split / f"{name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return folder


MT_SAMPLES = [  # English to Japanese; the full-width inputs and golds show what is NFKC-normalised and what not
    ("the cat runs", "猫が走る"),
    ("the dog sleeps", "犬が寝る"),
    ("Ｐａｒｉｓ is a city", "パリは都市だ"),
    ("one plus two", "１たす２"),
    ("red bird", "赤い鳥"),
]


def write_mt_dataset(folder: Path, name: str = "alt-e-to-j") -> Path:
    """An MT dataset beside the others in ``folder`` (llm-jp-eval's metrics: bleu_ja, comet_wmt22)."""
    for split, chosen in (("train", MT_SAMPLES[:4]), ("dev", MT_SAMPLES[2:]), ("test", MT_SAMPLES[:1])):
        data = {"instruction": "これから提示する英語の文章を日本語に翻訳してください。", "output_length": 6,
                "metrics": ["bleu_ja", "comet_wmt22"], "few_shots": [],
                "samples": [{"input": i, "output": o} for i, o in chosen]}
        path = folder / split / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return folder
