"""The per-example metrics against hand-computed values, Japanese and empty strings included."""

from __future__ import annotations

import math

import pytest

from ckptlens.errors import CkptlensError
from ckptlens.tasks import metrics
from ckptlens.tasks.metrics import char_f1, exact_match, first_paragraph_nfkc, normalise_text, set_f1


def test_normalise_text_strips_only():
    assert normalise_text("  a  b \n") == "a  b"


def test_exact_match_after_the_one_normalisation():
    assert exact_match(" 17\n", "17") == 1.0
    assert exact_match("1 7", "17") == 0.0
    assert exact_match("Paris", "paris") == 0.0
    assert exact_match("東京", "東京 ") == 1.0 and exact_match("東京", "京都") == 0.0
    assert exact_match("", "") == 1.0 and exact_match("", "a") == 0.0


@pytest.mark.parametrize(
    ("prediction", "gold", "expected"),
    [
        ("東京都", "東京", 0.80),  # Indel distance 1 over 5 characters: 80
        ("Hello, World!", "world hello", 1.0),  # punctuation to spaces, lower-cased, tokens sorted
        ("café", "cafe", 0.86),  # é (U+00E9) dropped: "caf" vs "cafe" = 6/7 = 85.7 -> 86
        ("abcdefgh", "aqrstuvw", 0.12),  # 1 common of 16: 12.5 rounds half to even -> 12
        ("abcdefgh", "abcqrstu", 0.38),  # 3 common of 16: 37.5 rounds half to even -> 38
        ("", "", 1.0),
        ("", "東京", 0.0),
        ("!!", "", 1.0),  # both empty after processing: fuzzywuzzy calls them equal
        ("!!", "a", 0.0),
        ("ＡＢＣ", "abc", 0.0),  # full-width letters are word characters, but not ASCII "abc"
    ],
)
def test_char_f1_is_fuzzywuzzy_token_sort_ratio(prediction, gold, expected):
    assert char_f1(prediction, gold) == expected


def test_char_f1_keeps_non_latin1_text():
    assert metrics.fuzzy_tokens("Ωmega ĀB") == "āb ωmega"  # only U+0080..U+00FF are dropped; tokens sorted


@pytest.mark.parametrize(
    ("prediction", "gold", "expected"),
    [
        ("a\nb", "a\nc", 0.5),
        ("a\na", "a\nb", 2 / 3),  # prediction lines are a set: precision 1/1, recall 1/2
        ("東京\n大阪", "大阪\n東京", 1.0),
        (" 東京 \n", "東京", 2 / 3),  # lines stripped: {"東京", ""} against ["東京"]
        ("", "a", 0.0),
        ("", "", 1.0),
    ],
)
def test_set_f1(prediction, gold, expected):
    assert set_f1(prediction, gold) == pytest.approx(expected)


def test_pearson_and_spearman_over_a_dataset():
    # x = 1,2,3; y = 1,2,4: cov 3, |x| sqrt 2, |y| sqrt(42/9) -> 9 / sqrt(84)
    assert metrics.pearson(["1", "2", "3"], ["1", "2", "4"]) == pytest.approx(9 / math.sqrt(84))
    assert metrics.spearman(["1", "2", "3"], ["1", "2", "4"]) == 1.0
    assert metrics.parse_float("類似度は4.5です") == 4.5 and metrics.parse_float("なし") == -2.0
    assert metrics.spearman(["なし", "2", "3"], ["3", "2", "1"]) == pytest.approx(-1.0)  # なし reads as -2
    # ties take average ranks: x ranks 0.5, 0.5, 2 against 0, 1, 2 -> 1.5 / sqrt(1.5 * 2)
    assert metrics.spearman(["1", "1", "3"], ["1", "2", "3"]) == pytest.approx(1.5 / math.sqrt(3))
    assert metrics.pearson(["1", "1"], ["1", "2"]) == 0.0  # undefined: 0, as llm-jp-eval
    with pytest.raises(CkptlensError, match="numeric gold"):
        metrics.pearson(["1"], ["高い"])


def test_bleu_per_example():
    assert metrics.METRICS["bleu_en"]("the cat sat on the mat", "the cat sat on the mat") == pytest.approx(1.0)
    assert metrics.METRICS["bleu_ja"]("東京は大きい", "東京は大きい") == pytest.approx(1.0)
    assert 0.0 < metrics.METRICS["bleu_ja"]("東京は大きい都市です", "東京は大きい") < 1.0
    assert metrics.METRICS["bleu_en"]("", "") == 0.01 and metrics.METRICS["bleu_en"]("", "x") == 0.0


def test_first_paragraph_nfkc():
    assert first_paragraph_nfkc("ＡＢＣ１ \nnext\n\n### 入力:\nx") == "ABC1 \nnext"
    assert first_paragraph_nfkc("") == ""


def test_unknown_metric_suggests_the_closest():
    with pytest.raises(CkptlensError, match="did you mean 'set_f1'"):
        metrics.metric("setf1")


def test_score_all_keeps_the_order_and_skips_dataset_metrics():
    assert list(metrics.score_all(["set_f1", "exact_match", "spearman"], "a", "a")) == ["set_f1", "exact_match"]
