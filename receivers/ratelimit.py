"""A token-bucket rate limiter (records per second) for receivers.

``acquire(n)`` takes ``n`` permits. Permits accrue at ``rate`` per second up
to a small burst; a caller that takes more than there are goes into debt and
sleeps until the debt is paid, so concurrent callers queue fairly and a long
sleep's overshoot is credited to the next caller: the long-run rate is exact.
The rate can change at any time (backpressure); ``cancel()`` wakes every
sleeper and turns the limiter off (used on stop).

The clock and the sleep are injectable, so the arithmetic is testable without
waiting:

>>> now = [0.0]
>>> slept = []
>>> limiter = RateLimiter(100, burst_s=0.05, clock=lambda: now[0], sleep=slept.append)
>>> for _ in range(5):             # the burst: 5 permits (0.05 s at 100/s) are free
...     limiter.acquire()
>>> limiter.acquire(); slept       # the 6th waits 1/100 s
[0.01]
>>> now[0] = 1.0                   # a second later the bucket is full again (capped at the burst)
>>> limiter.acquire(5); slept
[0.01]
>>> limiter.set_rate(10)
>>> limiter.acquire(); [round(s, 3) for s in slept]
[0.01, 0.1]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["RateLimiter", "validate_rate"]


def validate_rate(rate: float | None, what: str = "rate") -> float | None:
    """Check a records-per-second rate: None (unlimited) or a number > 0.

    >>> validate_rate(10), validate_rate(None)
    (10.0, None)
    >>> validate_rate(0, "max_rate")
    Traceback (most recent call last):
    ...
    ValueError: max_rate must be None (unlimited) or a number of records/s > 0, got 0
    """
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
        raise ValueError(
            f"{what} must be None (unlimited) or a number of records/s > 0, got {rate!r}"
        )
    return float(rate)


class RateLimiter:
    """Token bucket at ``rate`` permits/s holding at most ``max(1, rate * burst_s)`` permits.

    Thread-safe.

    >>> limiter = RateLimiter(1_000_000)
    >>> limiter.acquire(10); limiter.rate
    1000000.0
    """

    def __init__(
        self,
        rate: float,
        *,
        burst_s: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        checked = validate_rate(rate)
        if checked is None:
            raise ValueError("RateLimiter needs a rate; use no limiter for unlimited")
        if not isinstance(burst_s, (int, float)) or not burst_s >= 0:
            raise ValueError(f"burst_s must be a number of seconds >= 0, got {burst_s!r}")
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._clock = clock
        self._sleep = sleep if sleep is not None else self._cancellable_sleep
        self._burst_s = float(burst_s)
        self._rate = checked
        self._burst = max(1.0, checked * self._burst_s)
        self._tokens = self._burst
        self._last = clock()

    @property
    def rate(self) -> float:
        """The current rate in permits per second."""
        return self._rate

    def set_rate(self, rate: float) -> None:
        """Change the rate; permits already owed are kept, the burst follows the new rate."""
        checked = validate_rate(rate)
        if checked is None:
            raise ValueError("RateLimiter.set_rate needs a rate; drop the limiter for unlimited")
        with self._lock:
            self._refill(self._clock())
            self._rate = checked
            self._burst = max(1.0, checked * self._burst_s)
            self._tokens = min(self._tokens, self._burst)

    def acquire(self, permits: int = 1) -> None:
        """Take ``permits``, sleeping as long as needed to keep the rate (not after ``cancel``)."""
        if permits <= 0 or self._cancelled.is_set():
            return
        with self._lock:
            self._refill(self._clock())
            self._tokens -= permits
            debt = -self._tokens
            rate = self._rate
        if debt > 0:
            self._sleep(debt / rate)

    def cancel(self) -> None:
        """Wake every sleeping caller and let every later ``acquire`` through at once."""
        self._cancelled.set()

    def _refill(self, now: float) -> None:
        elapsed = now - self._last
        if elapsed > 0:
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
            self._last = now

    def _cancellable_sleep(self, seconds: float) -> None:
        self._cancelled.wait(seconds)
