"""Per-partition random sampling, drawn exactly as PySpark draws it.

>>> RDDSampler(False, 0.5, seed=7).func(0, iter(range(10))).__class__.__name__
'generator'
"""

from __future__ import annotations

import math
import random
import sys
from typing import Iterator, TypeVar

__all__ = ["RDDSampler"]

T = TypeVar("T")


class RDDSampler:
    """Bernoulli sampling without replacement, Poisson counts with replacement; the
    generator of partition ``split`` is seeded with ``seed ^ split``."""

    def __init__(self, withReplacement: bool, fraction: float, seed: int | None = None) -> None:
        self._seed = seed if seed is not None else random.randint(0, sys.maxsize)
        self._withReplacement = withReplacement
        self._fraction = fraction

    def _generator(self, split: int) -> random.Random:
        rng = random.Random(self._seed ^ split)
        for _ in range(10):  # mix: the seeds of neighbouring partitions are close
            rng.randint(0, 1)
        return rng

    @staticmethod
    def _poisson(rng: random.Random, mean: float) -> int:
        if mean < 20.0:
            limit = math.exp(-mean)
            p = rng.random()
            k = 0
            while p > limit:
                k += 1
                p *= rng.random()
            return k
        p = rng.expovariate(mean)
        k = 0
        while p < 1.0:
            k += 1
            p += rng.expovariate(mean)
        return k

    def func(self, split: int, iterator: Iterator[T]) -> Iterator[T]:
        rng = self._generator(split)
        if self._withReplacement:
            for obj in iterator:
                for _ in range(self._poisson(rng, self._fraction)):
                    yield obj
        else:
            for obj in iterator:
                if rng.random() < self._fraction:
                    yield obj
