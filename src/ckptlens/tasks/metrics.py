"""Per-example metrics of generated answers: one definition each, with the one text normalisation they share.

Every place that compares generated texts uses these: generation scoring (``ckptlens eval`` and the training
callbacks), the llm-jp-eval importer, ensemble voting and the instability score. The per-example metrics are
in :data:`METRICS` (name -> ``f(prediction, gold) -> float`` in [0, 1]); :func:`metric` looks one up and answers
"did you mean" for an unknown name. ``pearson`` and ``spearman`` are over a whole dataset, in
:data:`DATASET_METRICS`.

The llm-jp-eval metrics follow llm-jp-eval v1.4.1 (its ``evaluator``): ``exact_match`` compares the strings as
they are, ``char_f1`` is fuzzywuzzy 0.18's ``token_sort_ratio / 100`` (computed here with rapidfuzz, the engine
python-Levenshtein wraps: fuzzywuzzy itself is GPL), ``set_f1`` treats the gold's lines as a list and the
prediction's lines as a set, ``bleu_en`` / ``bleu_ja`` are sacrebleu's sentence BLEU / 100 (the
``ckptlens[llm-jp-eval]`` extra). ``comet_wmt22`` is scored by a model, over a batch, with each example's source
text (:mod:`ckptlens.tasks.comet`): :func:`score_examples` scores it with the others.

>>> normalise_text("  17\\n"), exact_match(" 17\\n", "17")
('17', 1.0)
>>> char_f1("東京 都", "都 東京"), set_f1("a\\nb", "a\\nc")
(1.0, 0.5)
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Callable, Sequence

import numpy as np
from rapidfuzz.distance import Indel

from ckptlens.errors import CkptlensError
from ckptlens.tasks.comet import COMET, comet_scorer

Metric = Callable[[str, str], float]


def normalise_text(text: str) -> str:
    """The form generated answers are compared in everywhere: surrounding whitespace stripped.

    Case and inner whitespace count, so an ensemble's vote and a checkpoint's score see the same answers.
    llm-jp-eval tasks are normalised before this (first paragraph, NFKC; see :mod:`ckptlens.tasks.llm_jp_eval`).

    >>> normalise_text(" Paris  France\\n")
    'Paris  France'
    """
    return str(text).strip()


def first_paragraph_nfkc(text: str) -> str:
    """llm-jp-eval's prediction: the output up to the first blank line, NFKC-normalised, stripped.

    >>> first_paragraph_nfkc(" ＡＢＣ１\\n\\n### 入力:")
    'ABC1'
    """
    return normalise_text(unicodedata.normalize("NFKC", str(text).split("\n\n")[0]))


ANSWER_RULES: dict[str, Callable[[str], str]] = {"strip": normalise_text, "llm-jp-eval": first_paragraph_nfkc}
"""How a task's generated output becomes the prediction its metrics score (``Task.answer_rule``)."""


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised texts are equal, else 0.0.

    >>> exact_match("17.", "17"), exact_match("", "")
    (0.0, 1.0)
    """
    return float(normalise_text(prediction) == normalise_text(gold))


LATIN1 = dict.fromkeys(range(0x80, 0x100))  # fuzzywuzzy's asciidammit drops exactly U+0080..U+00FF
NON_WORD = re.compile(r"\W", re.UNICODE)


def fuzzy_tokens(text: str) -> str:
    """fuzzywuzzy 0.18's full processing then token sort: drop U+0080..U+00FF, non-word chars to spaces,
    lower-case, strip, sort the whitespace tokens.

    >>> fuzzy_tokens("Café, au LAIT!")
    'au caf lait'
    """
    processed = NON_WORD.sub(" ", text.translate(LATIN1)).lower().strip()
    return " ".join(sorted(processed.split())).strip()


def char_f1(prediction: str, gold: str) -> float:
    """llm-jp-eval's character F1: fuzzywuzzy 0.18 ``token_sort_ratio(prediction, gold) / 100``.

    The ratio is the Indel similarity of the processed strings, ``100 * (1 - indel / (len_a + len_b))``,
    rounded to an integer half to even (Python's ``round``, as fuzzywuzzy's ``intr``). Two processed strings
    that are equal (both empty too) give 1.0; one empty gives 0.0.

    >>> char_f1("東京都", "東京"), char_f1("", ""), char_f1("abc", ""), char_f1("é", "")
    (0.8, 1.0, 0.0, 1.0)
    """
    a, b = fuzzy_tokens(prediction), fuzzy_tokens(gold)
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    return round(100 * Indel.normalized_similarity(a, b)) / 100


def set_f1(prediction: str, gold: str) -> float:
    """llm-jp-eval's set F1: the gold's stripped lines as a list, the prediction's stripped lines as a set.

    precision = (prediction lines found in the gold) / (distinct prediction lines),
    recall = the same count / (gold lines); F1 of the two, 0 when both are 0.

    >>> set_f1("b\\na\\na", "a\\nb"), set_f1("", "a")
    (1.0, 0.0)
    """
    gold_lines = [line.strip() for line in gold.split("\n")]
    predicted = {line.strip() for line in prediction.split("\n")}
    found = sum(line in gold_lines for line in predicted)
    precision, recall = found / len(predicted), found / len(gold_lines)
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _bleu(language: str) -> Metric:
    def bleu(prediction: str, gold: str) -> float:
        """Sentence BLEU / 100 as llm-jp-eval scores one example (capped at 1 against float noise); an empty
        side scores llm-jp-eval's 1 or 0 on its 0-100 scale, so 0.01 or 0 here."""
        prediction, gold = prediction.strip(), gold.strip()
        if not prediction or not gold:
            return float(prediction == gold) / 100
        return min(1.0, _sacrebleu(language).corpus_score([prediction], [[gold]]).score / 100)

    bleu.__name__ = f"bleu_{language}"
    return bleu


_BLEU_SCORERS: dict[str, object] = {}


def _sacrebleu(language: str):
    """sacrebleu's BLEU for the target language (``ja`` tokenises with MeCab), built once."""
    if language not in _BLEU_SCORERS:
        try:
            from sacrebleu import BLEU
        except ImportError:
            raise CkptlensError(
                "bleu_en / bleu_ja need sacrebleu: pip install 'ckptlens[llm-jp-eval]'"
            ) from None
        try:
            _BLEU_SCORERS[language] = BLEU(trg_lang=language, effective_order=True)
        except (ImportError, RuntimeError) as err:
            raise CkptlensError(
                f"bleu_{language}: sacrebleu's tokenizer for {language!r} is missing ({err}); "
                "pip install 'ckptlens[llm-jp-eval]'"
            ) from None
    return _BLEU_SCORERS[language]


def parse_float(text: str) -> float:
    """llm-jp-eval's reading of a numeric answer: its digits and dots as a float, else -2.

    >>> parse_float("スコア 3.5"), parse_float("なし"), parse_float("1.2.3")
    (3.5, -2.0, -2.0)
    """
    try:
        return float(re.sub(r"[^0-9.]", "", str(text)))
    except ValueError:
        return -2.0


def pearson(predictions: Sequence[str], golds: Sequence[str]) -> float:
    """Pearson correlation of the parsed predictions with the gold floats; 0 when undefined (as llm-jp-eval).

    >>> round(pearson(["1", "2", "3"], ["1", "2", "4"]), 4)
    0.982
    """
    x, y = _floats(predictions, golds)
    return _correlation(x, y)


def spearman(predictions: Sequence[str], golds: Sequence[str]) -> float:
    """Spearman rank correlation (average ranks for ties); 0 when undefined.

    >>> spearman(["1", "5", "9"], ["0.1", "0.2", "0.3"])
    1.0
    """
    x, y = _floats(predictions, golds)
    return _correlation(_ranks(x), _ranks(y))


def _floats(predictions: Sequence[str], golds: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    try:
        gold = np.array([float(g) for g in golds])
    except ValueError as err:
        raise CkptlensError(f"pearson/spearman need numeric gold answers: {err}") from None
    return np.array([parse_float(p) for p in predictions]), gold


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or np.std(x) == 0 or np.std(y) == 0:
        return 0.0
    value = float(np.corrcoef(x, y)[0, 1])
    return value if math.isfinite(value) else 0.0


METRICS: dict[str, Metric] = {
    "exact_match": exact_match,
    "char_f1": char_f1,
    "set_f1": set_f1,
    "bleu_en": _bleu("en"),
    "bleu_ja": _bleu("ja"),
}
"""Per-example metrics by name: ``f(prediction, gold)`` in [0, 1]."""

DATASET_METRICS: dict[str, Callable[[Sequence[str], Sequence[str]], float]] = {
    "pearson": pearson,
    "spearman": spearman,
}
"""Metrics defined only over a whole dataset (llm-jp-eval's jsts)."""

MODEL_METRICS = frozenset({COMET})
"""Per-example metrics scored by a model over a batch, with each example's source (:func:`score_examples`)."""

CONTINUOUS = frozenset({"char_f1", "set_f1", "bleu_en", "bleu_ja", COMET})
"""Metrics with partial credit: example MTV is the mean absolute change of the example's score."""


def metric(name: str) -> Metric:
    """The per-example metric ``name``; an unknown name is an error that suggests the closest one.

    >>> metric("char_f1")("abc", "abc")
    1.0
    >>> metric("charf1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ckptlens.errors.CkptlensError: unknown metric 'charf1': did you mean 'char_f1'? known: ...
    """
    if name in METRICS:
        return METRICS[name]
    if name in MODEL_METRICS:
        raise CkptlensError(f"{name} is scored by its model over a batch, with each example's source: "
                            "use tasks.metrics.score_examples")
    hint = difflib.get_close_matches(name, [*METRICS, *DATASET_METRICS], n=1)
    did_you_mean = f"did you mean {hint[0]!r}? " if hint else ""
    raise CkptlensError(f"unknown metric {name!r}: {did_you_mean}known: {', '.join(sorted(METRICS))}")


def score_all(names: Sequence[str], prediction: str, gold: str) -> dict[str, float]:
    """Every named per-example metric of one prediction, in the given order (dataset metrics skipped).

    >>> score_all(["char_f1", "exact_match", "pearson"], "東京", "東京都")
    {'char_f1': 0.8, 'exact_match': 0.0}
    """
    return {name: metric(name)(prediction, gold) for name in names if name not in DATASET_METRICS}


def score_examples(
    names: Sequence[str],
    predictions: Sequence[str],
    golds: Sequence[str],
    sources: Sequence[str] | None = None,
    comet_model: str | None = None,
) -> list[dict[str, float]]:
    """:func:`score_all` of every example, with the model metrics (COMET) scored in one batch.

    ``sources`` are the examples' source texts and ``comet_model`` the COMET checkpoint, both needed when
    ``names`` hold ``comet_wmt22``; the model is loaded once per process (``tasks.comet.comet_scorer``).

    >>> score_examples(["exact_match", "char_f1"], ["東京", "大阪"], ["東京", "東京"])
    [{'exact_match': 1.0, 'char_f1': 1.0}, {'exact_match': 0.0, 'char_f1': 0.0}]
    """
    plain = [n for n in names if n not in MODEL_METRICS]
    rows = [score_all(plain, p, g) for p, g in zip(predictions, golds, strict=True)]
    modelled = {n: _model_scores(n, predictions, golds, sources, comet_model) for n in names if n in MODEL_METRICS}
    return [{n: modelled[n][i] if n in modelled else row[n] for n in names if n not in DATASET_METRICS}
            for i, row in enumerate(rows)]


def _model_scores(name: str, predictions, golds, sources, comet_model: str | None) -> list[float]:
    if comet_model is None or sources is None or len(sources) != len(predictions):
        raise CkptlensError(f"{name} needs the COMET checkpoint and each example's source text "
                            "(tasks.comet.locate_comet; llm-jp-eval's sample input)")
    return comet_scorer(comet_model)(sources, predictions, golds)
