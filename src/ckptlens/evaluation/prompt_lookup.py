"""Draft tokens for greedy decoding from each row's own text (prompt lookup decoding, Saxena 2023).

A decode step reads every row's whole KV cache for one new token a row, so on long contexts a step costs about the
same for one query a row as for several. If the last few tokens a row produced occurred earlier in its context or
output, the tokens that followed them there are a guess at what comes next: the step then runs the guess along
(the row's queries are its last token and the guessed ones) and keeps the guessed tokens up to the first one the
model's own argmax disagrees with, plus the model's token after them. The text is the one plain greedy decoding
gives, token for token; only the number of passes changes. Models early in pretraining repeat themselves, and
few-shot outputs copy from their demonstrations, so guesses are often right; a row whose guesses fail gets
shorter ones (down to one token), and a row with no earlier match guesses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MATCH = (3, 2)  # the n-gram lengths tried, longest first
LONGEST = 4  # tokens guessed at most per row and step


class PromptLookup:
    """Each row's guess of its next tokens, and how long a guess it has earned."""

    def __init__(self, contexts: Sequence[Sequence[int]]):
        self.contexts = [np.asarray(c, dtype=np.int64) for c in contexts]
        self.lengths = [LONGEST] * len(contexts)

    def draft(self, row: int, generated: Sequence[int], room: int) -> list[int]:
        """At most ``room`` tokens that followed the latest earlier occurrence of the row's last tokens."""
        limit = min(self.lengths[row], room)
        if limit <= 0:
            return []
        text = np.concatenate([self.contexts[row], np.asarray(generated, dtype=np.int64)])
        for n in MATCH:
            start = _latest_match(text, n)
            if start is not None:
                return _copied(text, start + n, limit)
        return []

    def record(self, row: int, drafted: int, accepted: int) -> None:
        """A row whose whole guess held guesses one more token next time; else one more than what held."""
        if drafted:
            self.lengths[row] = min(LONGEST, drafted + 1 if accepted == drafted else accepted + 1)


def _copied(text: np.ndarray, source: int, count: int) -> list[int]:
    """``count`` tokens copied from ``source`` on, reading on into the copy itself past the text's end (a loop
    of period 2 found one period back goes on for as long as asked).

    >>> _copied(np.array([4, 5, 4, 5]), 2, 5)
    [4, 5, 4, 5, 4]
    """
    copy: list[int] = []
    while len(copy) < count:
        at = source + len(copy)
        copy.append(int(text[at]) if at < len(text) else copy[at - len(text)])
    return copy


def _latest_match(text: np.ndarray, n: int) -> int | None:
    """Where the last ``n`` tokens of ``text`` occurred before, latest first, with a token after them.

    >>> _latest_match(np.array([5, 6, 7, 1, 5, 6]), 2)
    0
    """
    if len(text) <= n:
        return None
    hits = np.ones(len(text) - n, dtype=bool)
    for i in range(n):
        hits &= text[i : len(text) - n + i] == text[len(text) - n + i]
    found = np.flatnonzero(hits)
    return int(found[-1]) if len(found) else None
