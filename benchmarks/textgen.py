"""Seeded pseudo-random text: lines of ~10 words from a Zipf-like vocabulary.

>>> gen = LineGenerator(seed=1, vocabulary=100)
>>> len(gen.lines(3)), len(gen.lines(3)[0].split())
(3, 10)
"""

from __future__ import annotations

import itertools
import random

__all__ = ["LineGenerator", "write_text_file"]


class LineGenerator:
    """Lines of ``words_per_line`` words drawn with probability ~ 1/rank (Zipf, s=1)."""

    def __init__(self, seed: int = 42, vocabulary: int = 10_000, words_per_line: int = 10) -> None:
        self._rng = random.Random(seed)
        self.words = [_word(i) for i in range(vocabulary)]
        self._cum = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(vocabulary)))
        self.words_per_line = words_per_line

    def lines(self, n: int) -> list[str]:
        k = self.words_per_line
        drawn = self._rng.choices(self.words, cum_weights=self._cum, k=n * k)
        return [" ".join(drawn[i:i + k]) for i in range(0, n * k, k)]


def _word(i: int) -> str:
    letters = "etaoinshrdlucmfwypvbgkjqxz"
    out = []
    n = i + 1
    while n:
        n, r = divmod(n, len(letters))
        out.append(letters[r])
    return "".join(out) + "s" * (i % 3)


def write_text_file(path: str, megabytes: float, seed: int = 42) -> int:
    """Write about ``megabytes`` MB of generated lines to ``path``; return the word count."""
    gen = LineGenerator(seed)
    target = int(megabytes * 1_000_000)
    written = words = 0
    with open(path, "w", encoding="utf-8") as f:
        while written < target:
            chunk = "\n".join(gen.lines(10_000)) + "\n"
            f.write(chunk)
            written += len(chunk)
            words += 10_000 * gen.words_per_line
    return words
