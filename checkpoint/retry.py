"""Retrying a call with exponential backoff, for stores that can go away.

>>> calls = []
>>> def flaky():
...     calls.append(1)
...     if len(calls) < 3:
...         raise ConnectionError("down")
...     return "ok"
>>> call_with_retry(flaky, attempts=5, base_delay=0.1, max_delay=1.0,
...                 on_error=lambda exc, attempt, delay: print(attempt, delay),
...                 sleep=lambda seconds: None)
1 0.1
2 0.2
'ok'
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from dstream.checkpoint.errors import CheckpointStoreUnavailable

T = TypeVar("T")

OnError = Callable[[BaseException, int, float], None]
"""Called as ``on_error(error, attempt, delay)`` before sleeping ``delay`` seconds."""


def backoff_delays(attempts: int, base_delay: float, max_delay: float) -> list[float]:
    """The sleeps between ``attempts`` tries: ``base_delay * 2**i``, capped at ``max_delay``.

    >>> backoff_delays(6, 0.5, 3.0)
    [0.5, 1.0, 2.0, 3.0, 3.0]
    """
    return [min(max_delay, base_delay * 2**i) for i in range(attempts - 1)]


def call_with_retry(
    fn: Callable[[], T],
    *,
    attempts: int,
    base_delay: float,
    max_delay: float,
    on_error: OnError | None = None,
    retry_on: tuple[type[BaseException], ...] = (CheckpointStoreUnavailable, ConnectionError),
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn()`` up to ``attempts`` times, sleeping with exponential backoff between.

    Only exceptions in ``retry_on`` are retried (by default an unavailable
    store or any ``ConnectionError``); anything else propagates at once.
    Before each sleep ``on_error(error, attempt, delay)`` is called (attempt
    counts from 1), so the caller can log that it keeps going. When the last
    attempt fails its exception propagates. ``sleep`` is injectable so tests
    need not wait.

    >>> call_with_retry(lambda: 42, attempts=1, base_delay=0.0, max_delay=0.0)
    42
    >>> call_with_retry(lambda: 1 / 0, attempts=3, base_delay=0.01, max_delay=0.1)
    Traceback (most recent call last):
    ...
    ZeroDivisionError: division by zero
    """
    if not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"attempts must be an int >= 1, got {attempts!r}")
    if base_delay < 0 or max_delay < 0:
        raise ValueError(
            f"delays must be >= 0, got base_delay={base_delay!r}, max_delay={max_delay!r}"
        )
    for attempt, delay in enumerate(backoff_delays(attempts, base_delay, max_delay), start=1):
        try:
            return fn()
        except retry_on as exc:
            if on_error is not None:
                on_error(exc, attempt, delay)
            sleep(delay)
    return fn()
