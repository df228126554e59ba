"""Running statistics of numbers (PySpark's ``StatCounter``).

>>> s = StatCounter([1.0, 2.0, 3.0, 4.0])
>>> s.count(), s.mean(), s.max(), s.min(), s.sampleVariance()
(4, 2.5, 4.0, 1.0, 1.6666666666666667)
"""

from __future__ import annotations

import math
from typing import Iterable

__all__ = ["StatCounter"]


class StatCounter:
    """Count, mean and sum of squared deviations, merged with Chan's parallel algorithm."""

    def __init__(self, values: Iterable[float] | None = None) -> None:
        self.n = 0
        self.mu = 0.0
        self.m2 = 0.0
        self.maxValue = float("-inf")
        self.minValue = float("inf")
        for v in values or ():
            self.merge(v)

    def merge(self, value: float) -> StatCounter:
        """Add one value; returns this counter.

        >>> s = StatCounter([1.0, 2.0]).merge(6.0)
        >>> s.count(), s.mean(), s.max()
        (3, 3.0, 6.0)
        """
        delta = value - self.mu
        self.n += 1
        self.mu += delta / self.n
        self.m2 += delta * (value - self.mu)
        self.maxValue = max(self.maxValue, value)
        self.minValue = min(self.minValue, value)
        return self

    def mergeStats(self, other: StatCounter) -> StatCounter:
        """Merge the statistics of ``other`` into this counter; returns this counter.

        >>> s = StatCounter([1.0, 2.0]).mergeStats(StatCounter([3.0, 4.0]))
        >>> s.count(), s.mean(), s.min(), s.max()
        (4, 2.5, 1.0, 4.0)
        """
        if not isinstance(other, StatCounter):
            raise TypeError(f"can only merge a StatCounter, got {type(other).__name__}")
        if other is self:
            return self.mergeStats(other.copy())
        if self.n == 0:
            self.mu, self.m2, self.n = other.mu, other.m2, other.n
            self.maxValue, self.minValue = other.maxValue, other.minValue
        elif other.n != 0:
            delta = other.mu - self.mu
            if other.n * 10 < self.n:
                self.mu = self.mu + (delta * other.n) / (self.n + other.n)
            elif self.n * 10 < other.n:
                self.mu = other.mu - (delta * self.n) / (self.n + other.n)
            else:
                self.mu = (self.mu * self.n + other.mu * other.n) / (self.n + other.n)
            self.maxValue = max(self.maxValue, other.maxValue)
            self.minValue = min(self.minValue, other.minValue)
            self.m2 += other.m2 + (delta * delta * self.n * other.n) / (self.n + other.n)
            self.n += other.n
        return self

    def copy(self) -> StatCounter:
        """An independent copy.

        >>> s = StatCounter([1.0])
        >>> clone = s.copy().merge(3.0)
        >>> s.count(), clone.count(), clone.mean()
        (1, 2, 2.0)
        """
        clone = StatCounter()
        clone.n, clone.mu, clone.m2 = self.n, self.mu, self.m2
        clone.maxValue, clone.minValue = self.maxValue, self.minValue
        return clone

    def count(self) -> int:
        """The number of values.

        >>> StatCounter([1.0, 2.0, 3.0]).count(), StatCounter().count()
        (3, 0)
        """
        return self.n

    def mean(self) -> float:
        """The mean (0.0 for no values).

        >>> StatCounter([1.0, 2.0, 3.0, 6.0]).mean()
        3.0
        """
        return self.mu

    def sum(self) -> float:
        """The sum.

        >>> StatCounter([1.0, 2.0, 3.0]).sum()
        6.0
        """
        return self.n * self.mu

    def min(self) -> float:
        """The smallest value (``inf`` for no values).

        >>> StatCounter([2.0, 1.0, 3.0]).min(), StatCounter().min()
        (1.0, inf)
        """
        return self.minValue

    def max(self) -> float:
        """The largest value (``-inf`` for no values).

        >>> StatCounter([2.0, 3.0, 1.0]).max(), StatCounter().max()
        (3.0, -inf)
        """
        return self.maxValue

    def variance(self) -> float:
        """The population variance (divided by n); ``nan`` for no values.

        >>> StatCounter([1.0, 2.0, 3.0]).variance(), StatCounter().variance()
        (0.6666666666666666, nan)
        """
        return float("nan") if self.n == 0 else self.m2 / self.n

    def sampleVariance(self) -> float:
        """The sample variance (divided by n - 1); ``nan`` for fewer than two values.

        >>> StatCounter([1.0, 2.0, 3.0]).sampleVariance(), StatCounter([1.0]).sampleVariance()
        (1.0, nan)
        """
        return float("nan") if self.n <= 1 else self.m2 / (self.n - 1)

    def stdev(self) -> float:
        """The population standard deviation.

        >>> StatCounter([1.0, 2.0, 3.0]).stdev()
        0.816496580927726
        """
        return math.sqrt(self.variance())

    def sampleStdev(self) -> float:
        """The sample standard deviation.

        >>> StatCounter([1.0, 2.0, 3.0]).sampleStdev()
        1.0
        """
        return math.sqrt(self.sampleVariance())

    def asDict(self, sample: bool = False) -> dict[str, float]:
        """The statistics as a dict; ``sample=True`` gives the sample stdev and variance.

        >>> d = StatCounter([1.0, 2.0, 3.0]).asDict()
        >>> sorted(d)
        ['count', 'max', 'mean', 'min', 'stdev', 'sum', 'variance']
        >>> d["count"], d["sum"], d["stdev"], d["variance"]
        (3, 6.0, 0.816496580927726, 0.6666666666666666)
        >>> sc.parallelize([1.0, 2.0, 3.0]).stats().asDict(sample=True)["stdev"]
        1.0
        """
        return {"count": self.count(), "mean": self.mean(), "sum": self.sum(),
                "min": self.min(), "max": self.max(),
                "stdev": self.sampleStdev() if sample else self.stdev(),
                "variance": self.sampleVariance() if sample else self.variance()}

    def __repr__(self) -> str:
        return (f"(count: {self.count()}, mean: {self.mean()}, stdev: {self.stdev()}, "
                f"max: {self.max()}, min: {self.min()})")
