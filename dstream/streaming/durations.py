"""Durations and batch times: seconds at the API, integer milliseconds inside.

>>> to_ms(1.5), to_ms(0.2)
(1500, 200)
>>> batch_datetime(0).year >= 1969
True
"""

from __future__ import annotations

import datetime as dt
from numbers import Real

__all__ = ["to_ms", "batch_datetime", "check_multiple"]


def to_ms(seconds: float | Real, what: str = "duration") -> int:
    """Seconds (as PySpark takes them) to whole milliseconds; rejects non-positive values."""
    if isinstance(seconds, bool) or not isinstance(seconds, Real):
        raise TypeError(f"{what} must be a number of seconds, got {type(seconds).__name__} {seconds!r}")
    ms = int(round(float(seconds) * 1000))
    if ms <= 0:
        raise ValueError(f"{what} must be positive, got {seconds!r} s")
    return ms


def batch_datetime(ms: int) -> dt.datetime:
    """A batch time as PySpark hands it to user code: a naive local datetime."""
    return dt.datetime.fromtimestamp(ms / 1000)


def check_multiple(value_ms: int, unit_ms: int, *, stream: str, what: str, unit_name: str) -> None:
    """Raise ValueError unless ``value_ms`` is a whole multiple of ``unit_ms``."""
    if value_ms % unit_ms != 0:
        raise ValueError(
            f"{stream}: {what} {value_ms / 1000:g} s must be a multiple of the parent stream's "
            f"{unit_name} ({unit_ms / 1000:g} s)")
