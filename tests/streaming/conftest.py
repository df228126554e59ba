"""Fixtures for the streaming tests: one Context at a time, a StreamingContext on the manual
clock, and the table-driven runner "input batches -> function -> expected batches"
(PySpark's ``_test_func``).

Every test that starts a StreamingContext steps it with the manual clock; none sleeps.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dstream import Context, StreamingContext
from dstream.aggregation import ResultIterable
from dstream.streaming import DStream
from dstream.streaming.testing import advance_batch, collect_batches


@pytest.fixture(params=["local"])
def ctx(request: pytest.FixtureRequest) -> Iterator[Context]:
    """A Context (``local`` unless a test parametrizes ``ctx`` indirectly), stopped afterwards."""
    context = Context(request.param, "streaming-tests")
    try:
        yield context
    finally:
        context.stop()


@pytest.fixture
def ssc(ctx: Context) -> Iterator[StreamingContext]:
    """A StreamingContext with 1 s batches on the manual clock; stopped (keeping ``ctx``)."""
    streaming = StreamingContext(ctx, 1, clock="manual")
    try:
        yield streaming
    finally:
        streaming.stop(stopSparkContext=False)


@pytest.fixture
def checkpoint_dir(tmp_path: Any) -> str:
    return os.fspath(tmp_path / "checkpoints")


def normalize(value: Any) -> Any:
    """Grouped values as plain lists, tuples kept, so results compare with literals."""
    if isinstance(value, ResultIterable):
        return [normalize(v) for v in value]
    if isinstance(value, tuple):
        return tuple(normalize(v) for v in value)
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def sort_batch(batch: list[Any]) -> list[Any]:
    """A batch in a canonical order (records are compared by ``repr`` when types mix)."""
    try:
        return sorted(batch)
    except TypeError:
        return sorted(batch, key=repr)


Runner = Callable[..., list[list[Any]]]


@pytest.fixture
def run(ssc: StreamingContext) -> Runner:
    """``run(inputs, func, n=None, *, inputs2=None, sort=True, checkpoint=None)``: queue
    ``inputs`` (one list per batch), apply ``func(stream)`` (or ``func(stream, stream2)``),
    run ``n`` batches (default: as many as inputs) and return each batch's records,
    normalized and (unless ``sort=False``) sorted."""

    def run_func(inputs: list[Any], func: Callable[..., DStream], n: int | None = None, *,
                 inputs2: list[Any] | None = None, sort: bool = True,
                 checkpoint: str | None = None) -> list[list[Any]]:
        if checkpoint is not None:
            ssc.checkpoint(checkpoint)
        streams = [ssc.queueStream(inputs)]
        if inputs2 is not None:
            streams.append(ssc.queueStream(inputs2))
        batches = collect_batches(func(*streams))
        ssc.start()
        for _ in range(len(inputs) if n is None else n):
            advance_batch(ssc)
        ssc.awaitTerminationOrTimeout(0)      # re-raises a batch's error
        result = [normalize(b) for b in batches]
        return [sort_batch(b) for b in result] if sort else result

    return run_func

