"""Waiting in tests for a condition that nothing notifies: poll it, and name it on timeout."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def until(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``condition`` until it is truthy (returned) or fail after ``timeout`` seconds
    naming ``what`` was awaited.

    >>> until(lambda: 42, "the answer")
    42
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting until {what}")
        time.sleep(0.05)
