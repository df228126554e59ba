"""call_with_retry: exponential backoff, what is retried, what propagates."""

from __future__ import annotations

import pytest

from dstream.checkpoint.errors import CheckpointStoreUnavailable
from dstream.checkpoint.retry import backoff_delays, call_with_retry


class Flaky:
    def __init__(self, failures: int, error: BaseException) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


def test_delays_double_up_to_the_cap() -> None:
    assert backoff_delays(1, 0.1, 1.0) == []
    assert backoff_delays(7, 0.1, 1.0) == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_retries_until_success_with_backoff() -> None:
    fn = Flaky(3, CheckpointStoreUnavailable("redis://h:1/0", "down"))
    slept: list[float] = []
    seen: list[tuple[int, float]] = []
    result = call_with_retry(
        fn, attempts=10, base_delay=0.5, max_delay=1.5,
        on_error=lambda exc, attempt, delay: seen.append((attempt, delay)), sleep=slept.append,
    )
    assert result == "done" and fn.calls == 4
    assert slept == [0.5, 1.0, 1.5]
    assert seen == [(1, 0.5), (2, 1.0), (3, 1.5)]


def test_last_failure_propagates() -> None:
    fn = Flaky(10, ConnectionRefusedError("refused"))
    slept: list[float] = []
    with pytest.raises(ConnectionRefusedError, match="refused"):
        call_with_retry(fn, attempts=3, base_delay=0.0, max_delay=0.0, sleep=slept.append)
    assert fn.calls == 3 and slept == [0.0, 0.0]


def test_other_errors_are_not_retried() -> None:
    fn = Flaky(1, KeyError("bug"))
    with pytest.raises(KeyError):
        call_with_retry(fn, attempts=5, base_delay=0.0, max_delay=0.0, sleep=lambda s: None)
    assert fn.calls == 1


def test_retry_on_can_be_chosen() -> None:
    fn = Flaky(2, TimeoutError("slow"))
    assert call_with_retry(
        fn, attempts=3, base_delay=0.0, max_delay=0.0, retry_on=(TimeoutError,), sleep=lambda s: None
    ) == "done"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attempts": 0, "base_delay": 0.1, "max_delay": 1.0}, "attempts must be an int >= 1, got 0"),
        ({"attempts": 2, "base_delay": -1.0, "max_delay": 1.0}, "delays must be >= 0"),
    ],
)
def test_argument_checks(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call_with_retry(lambda: None, **kwargs)  # type: ignore[arg-type]
