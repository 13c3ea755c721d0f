"""One sentence with its formula for every number the report shows, as DESIGN.md and the README define them.

>>> terms = [term for term, _ in definitions(methods={"raw", "average"}, last=0.2, intervals=True)]
>>> "example MTV" in terms and "average of n" in terms and "ensemble-vote of n" not in terms
True
"""

from __future__ import annotations

from collections.abc import Collection

WINDOW = ("final window", "The checkpoints whose step is at least (1 − F) × the last step, F = {last:g} (`--last`): "
          "checkpoints 1 … m ordered by training step; every number of the stability table is computed over them.")
SCORE = ("score s(t)", "The task score of checkpoint t: the fraction of the task's examples it gets right "
         "(accuracy for multiple choice, exact match for generation), in [0, 1]; mean score = (1/m) Σ_t s(t). "
         "For an lm-eval task, s(t) is lm-eval's own aggregation of the metric over the documents (mean, "
         "perplexity = exp(−mean loglik), weighted_perplexity = exp(−Σ loglik / Σ weight), bits_per_byte, f1, ...), "
         "and its higher_is_better sets the direction.")
INTERVAL = ("[lo, hi]", "95% bootstrap interval over examples: the 2.5th and 97.5th percentiles of the number "
            "recomputed on examples resampled with replacement.")
METRICS = (
    ("task MTV", "Mean total variation of the task score: (1/(m−1)) Σ_t |s(t+1) − s(t)|, how far it moves "
     "between neighbouring checkpoints."),
    ("example MTV", "The same per example on its correctness L_i(t) ∈ {0, 1}, averaged over the E examples: "
     "(1/E) Σ_i (1/(m−1)) Σ_t |L_i(t+1) − L_i(t)|; gains and losses on different examples do not cancel. "
     "On a perplexity-type metric (perplexity, word/byte perplexity, bits per byte) L_i(t) is document i's "
     "log-likelihood per weight (per word, byte or, for lambada, per document); such a task has no chance level, "
     "no flip fraction or forgetting events, and stays out of means over tasks."),
    ("instability score (IS)", "How often an answer changes between neighbours, right or wrong: "
     "(1/E) Σ_i (1/(m−1)) Σ_t [x_i(t+1) ≠ x_i(t)], x = the chosen option or the generated text."),
    ("std", "Standard deviation of the task score over the window: √((1/m) Σ_t (s(t) − mean score)²)."),
    ("relative std", "std / mean score, the \"noise\" of AI2's Signal and Noise paper."),
    ("monotonicity", "(#ups − #downs) / (#ups + #downs) of the task score between neighbours: 1 always rising, "
     "−1 always falling."),
    ("flip fraction", "The fraction of examples whose correctness changes at least once in the window."),
    ("forgetting events", "The number of (example, t) with the example right at checkpoint t and wrong at t+1."),
    ("near chance", "A task whose raw mean score is not above chance by more than the margin min(0.10, max(0.05, "
     "3 √(c(1−c)/E))), c = chance = mean over examples of 1 / (number of options); its flips are guessing, so it "
     "is left out of means over tasks (and, when runs are compared, so is a task near chance in any of them)."),
)
METHODS = {
    "raw": ("raw", "The evaluated checkpoints themselves (window 1)."),
    "average": ("average of n", "The checkpoint whose weights are θ̄(t) = (1/n) Σ_{k=0..n−1} θ(t−k), the mean of "
                "the n checkpoints ending at t, evaluated like any other."),
    "ensemble-vote": ("ensemble-vote of n", "Majority vote of the n checkpoints' chosen options, ties to the higher "
                      "mean log-likelihood (generation: vote over normalised texts, ties to the newest)."),
    "ensemble-mean-logprob": ("ensemble-mean-logprob of n", "argmax over options of the n checkpoints' mean "
                              "log-likelihood (1/n) Σ_k log p(option | θ(t−k))."),
    "ensemble-mean-prob": ("ensemble-mean-prob of n", "argmax over options of the mean softmax probability over "
                           "the options, (1/n) Σ_k p(option | θ(t−k))."),
    "ensemble-confidence": ("ensemble-confidence of n", "Each checkpoint votes for its best option with weight = "
                            "its best minus its second-best log-likelihood; ties to the higher mean log-likelihood."),
}
ADAPTIVE = ("adaptive-<method>", "The method with its window chosen per task among 1 and the fixed windows, on "
            "other examples than those it is scored on (Adaptive windows below); its window is the choice on all "
            "examples.")
OTHERS = (
    ("noise", "The std of the raw task score over the final window; a change smaller than it is not evidence."),
    ("lag", "An integrated checkpoint ending at t scores below raw checkpoint t by more than the noise while the raw "
     "score rose across its n members by more than the noise."),
    ("McNemar p", "Exact two-sided test on the examples whose correctness differs between two checkpoints: "
     "p = min(1, 2 Σ_{k ≤ min(b, c)} C(b+c, k) / 2^(b+c)), b examples lost and c gained; below 0.05 the change "
     "is real."),
    ("min detectable difference", "(1.96 + 0.84) √(d / E), d = fraction of discordant examples: the smallest "
     "score change a paired test of E examples detects with 80% power at the 5% level."),
    ("linearity gap", "Score of the averaged checkpoint minus the mean score of its n members; positive: the "
     "average is better than its members."),
    ("drift", "‖θ(t) − θ(t−1)‖ / ‖θ(t−1)‖ (relative L2) between neighbouring checkpoints, summed over a window's "
     "steps."),
)

QUESTIONS = (  # the study's open questions (Findings, Instability through training, Probability dynamics)
    ("phase k of K", "The checkpoints whose step lies in [(k−1)/K, k/K] × the last step (`stability --phases K`); the "
     "last of 5 phases is the final window of `--last 0.2`. Each method is compared over the steps all its windows "
     "cover within the phase."),
    ("cut %", "100 × (raw − method) / raw of example MTV or IS, means over the phase's tasks that learned."),
    ("margin", "m_i(t) = log p(gold | θ(t)) − max over the other options of log p(option | θ(t)); positive when "
     "example i is right at checkpoint t."),
    ("gold probability", "p_i(t) = softmax over example i's options of their log-likelihoods, at the gold option."),
    ("flip rate by |margin| decile", "The pairs (i, t → t+1) of the window cut into tenths by |m_i(t)|; in each, the "
     "fraction whose correctness changes from t to t+1, with its 95% Wilson interval."),
    ("ρ(|margin|, flip)", "Spearman rank correlation of |m_i(t)| with the flip to t+1 over all pairs, with a 95% "
     "bootstrap interval over examples (each keeps its pairs); negative: small margins flip."),
    ("removed, small / large margins", "Of the raw flips whose pair has a full ensemble window, the share the "
     "window-n ensemble does not make, among pairs below / above the median |margin|."),
    ("CKA", "Linear centred kernel alignment of two checkpoints' mean-pooled hidden states of a task's prompts, "
     "X and Y (examples × features, column-centred): ‖Yᵀ X‖²_F / (‖Xᵀ X‖_F ‖Yᵀ Y‖_F); 1 = the same up to a rotation "
     "and scale. States are float16, through a seeded random projection to at most 256 features."),
    ("cosine change", "1 − cos(h_i(t), h_i(t+1)) of example i's last-token state at the last layer; Spearman(cosine "
     "change, flip) relates it to the example's correctness flipping at the same step."),
    ("score kind", "0/1 for metrics scored right or wrong (accuracy, exact match), continuous for char-F1, set-F1, "
     "BLEU, COMET; the 0/1 view of a continuous task scores its same outputs by exact match."),
)


def definitions(methods: Collection[str], last: float, intervals: bool) -> list[tuple[str, str]]:
    """The terms the page uses: the window, the numbers, each method present (in the tables' order), the rest."""
    window = (WINDOW[0], WINDOW[1].format(last=last))
    present = [METHODS[m] for m in METHODS if m in methods]
    present += [ADAPTIVE] if any(m.startswith("adaptive-") for m in methods) else []
    return [window, SCORE, *([INTERVAL] if intervals else []), *METRICS, *present, *OTHERS, *QUESTIONS]
