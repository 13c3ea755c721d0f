"""ckptlens's char_f1 vs fuzzywuzzy 0.18 ``token_sort_ratio / 100``, llm-jp-eval's definition of it.

    python bench/llm_jp_eval_metrics.py --install     # first time: builds bench/.envs/fuzzywuzzy-0.18.0
    python bench/llm_jp_eval_metrics.py [--pairs 6000] [--seed 0]

fuzzywuzzy is GPL, so it lives only in the benchmark's own environment, with python-Levenshtein as
llm-jp-eval installs it (fuzzywuzzy then uses Levenshtein's ratio rather than difflib's). String pairs are
generated (Japanese, ASCII, mixed, empty, Latin-1 and punctuation, near-duplicates), scored by both, and the
number of disagreements is printed; acceptance is 0. (Measured: 0 of 6,000 with python-Levenshtein; fuzzywuzzy
without it falls back to difflib's different ratio and disagrees on 118 of the same 6,000.)
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from ckptlens.tasks.metrics import char_f1

FUZZYWUZZY = ("fuzzywuzzy==0.18.0", "python-Levenshtein")
ENV = Path(__file__).parent / ".envs" / "fuzzywuzzy-0.18.0"
RUNNER = r"""
import json, sys
from fuzzywuzzy import fuzz
pairs = json.load(open(sys.argv[1], encoding="utf-8"))
print(json.dumps([fuzz.token_sort_ratio(a, b) / 100 for a, b in pairs]))
"""
ALPHABETS = {
    "japanese": "東京都大阪府京都日本語のはをにがでとしたですます。、「」アイウエオカキクケコ０１２３ＡＢＣ　",
    "ascii": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789 ,.;:!?-_'\"()[]",
    "latin1": "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿ©®°±µ¶·¿×÷ ¡¢£¤¥abc",
    "punctuation": " \t\n.,;:!?@#$%^&*()[]{}<>/\\|~`-_=+",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help=f"create {ENV} and pip install fuzzywuzzy there")
    parser.add_argument("--pairs", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.install:
        subprocess.run([sys.executable, "-m", "venv", str(ENV)], check=True)
        subprocess.run([str(ENV / "bin" / "python"), "-m", "pip", "install", "-q", *FUZZYWUZZY], check=True)
    if not (ENV / "bin" / "python").is_file():
        sys.exit(f"no fuzzywuzzy environment at {ENV}; run again with --install")
    pairs = generate_pairs(args.pairs, random.Random(args.seed))
    theirs = fuzzywuzzy_scores(pairs)
    ours = [char_f1(a, b) for a, b in pairs]
    disagreements = [(p, t, o) for p, t, o in zip(pairs, theirs, ours, strict=True) if t != o]
    for (a, b), t, o in disagreements[:10]:
        print(f"  {a!r} vs {b!r}: fuzzywuzzy {t}, ckptlens {o}")
    print(f"pairs: {len(pairs)}  disagreements: {len(disagreements)}")


def generate_pairs(n: int, rng: random.Random) -> list[tuple[str, str]]:
    """Pairs from every alphabet and their mixes, a share of them empty, near-duplicates or token shuffles."""
    pairs = [("", ""), ("", "a"), ("é", ""), ("東京", ""), ("!!", "??"), ("ÀB", "b")]
    while len(pairs) < n:
        a = random_text(rng)
        kind = rng.random()
        if kind < 0.3:
            b = mutate(a, rng)
        elif kind < 0.4:
            b = " ".join(rng.sample(a.split(), len(a.split())))
        elif kind < 0.45:
            b = ""
        else:
            b = random_text(rng)
        pairs.append((a, b) if rng.random() < 0.5 else (b, a))
    return pairs


def random_text(rng: random.Random) -> str:
    names = rng.sample(sorted(ALPHABETS), rng.randint(1, 3))
    alphabet = "".join(ALPHABETS[name] for name in names)
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))


def mutate(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        position = rng.randint(0, len(chars))
        if chars and rng.random() < 0.5:
            del chars[min(position, len(chars) - 1)]
        else:
            chars.insert(position, rng.choice("".join(ALPHABETS.values())))
    return "".join(chars)


def fuzzywuzzy_scores(pairs: list[tuple[str, str]]) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pairs.json"
        path.write_text(json.dumps(pairs, ensure_ascii=False), encoding="utf-8")
        done = subprocess.run([str(ENV / "bin" / "python"), "-c", RUNNER, str(path)], check=True,
                              capture_output=True, text=True)
    return json.loads(done.stdout)


if __name__ == "__main__":
    main()
