"""Clocks for the batch timer: the system clock, and a manual clock that tests advance.

>>> clock = ManualClock()
>>> clock.advance(1000); clock.now_ms()
1000
"""

from __future__ import annotations

import threading
import time

__all__ = ["Clock", "SystemClock", "ManualClock"]


class Clock:
    def now_ms(self) -> int:
        raise NotImplementedError

    def wait_till(self, target_ms: int, stop: threading.Event) -> bool:
        """Block until the clock reaches ``target_ms`` (True) or ``stop`` is set (False)."""
        raise NotImplementedError

    def wake(self) -> None:
        """Wake waiters so that they look at ``stop`` again."""


class SystemClock(Clock):
    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def wait_till(self, target_ms: int, stop: threading.Event) -> bool:
        while not stop.is_set():
            remaining = target_ms - self.now_ms()
            if remaining <= 0:
                return True
            stop.wait(min(remaining / 1000, 0.1))
        return False

    def wake(self) -> None:
        pass


class ManualClock(Clock):
    """Time moves only when ``advance`` or ``set_time`` is called."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms
        self._cond = threading.Condition()

    def now_ms(self) -> int:
        with self._cond:
            return self._now

    def advance(self, ms: int) -> None:
        with self._cond:
            self._now += ms
            self._cond.notify_all()

    def set_time(self, ms: int) -> None:
        with self._cond:
            self._now = ms
            self._cond.notify_all()

    def wait_till(self, target_ms: int, stop: threading.Event) -> bool:
        with self._cond:
            while self._now < target_ms:
                if stop.is_set():
                    return False
                self._cond.wait(0.5)
            return not stop.is_set()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()
