"""A stream's values counted as its batches complete, for tests to wait on."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any


class Counted:
    """The values a stream's batches held, each counted (a Counter), under a condition tests
    wait on: ``stream.foreachRDD(counted.add)``, then ``counted.wait_until(...)``."""

    def __init__(self) -> None:
        self.values: Counter[str] = Counter()
        self.changed = threading.Condition()

    def add(self, rdd: Any) -> None:
        values = rdd.collect()
        with self.changed:
            self.values.update(values)
            self.changed.notify_all()

    def wait_until(self, condition: Callable[[Counter[str]], bool], what: str,
                   timeout: float) -> None:
        """Wait until ``condition(values)`` holds; an AssertionError naming ``what`` after
        ``timeout`` seconds."""
        with self.changed:
            if not self.changed.wait_for(lambda: condition(self.values), timeout):
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; "
                                     f"{sum(self.values.values())} records counted")
