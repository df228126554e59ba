"""Property: reduceByKeyAndWindow with an inverse == without it == a naive recomputation from
the raw batches, over random streams, window lengths and slides (manual clock)."""

from __future__ import annotations

import operator
import tempfile
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dstream import Context, StreamingContext
from dstream.streaming.testing import advance_batch, collect_batches

KEYS = ["a", "b", "c", 1, None]

batches_strategy = st.lists(
    st.lists(st.tuples(st.sampled_from(KEYS), st.integers(1, 9)), max_size=6), min_size=1, max_size=14)


@st.composite
def window_shapes(draw: Any) -> tuple[int, int]:
    """(window, slide) in batches: the slide a multiple of the batch, the window of the slide;
    windows of five slides and more take the inverse path."""
    slide = draw(st.integers(1, 3))
    return draw(st.integers(1, 7)) * slide, slide


def naive_windows(raw: list[list[tuple[Any, int]]], window: int, slide: int) -> list[dict[Any, int]]:
    """Each window's sums, recomputed from the batches it covers: at t = slide, 2 * slide, ...
    (batch i is at t = i + 1) the window holds the batches with times in (t - window, t]."""
    result = []
    for t in range(slide, len(raw) + 1, slide):
        sums: Counter[Any] = Counter()
        for i in range(max(0, t - window), t):
            for k, v in raw[i]:
                sums[k] += v
        result.append(dict(sums))
    return result


def run_windows(master: str, batches: list[list[tuple[Any, int]]], window: int, slide: int
                ) -> dict[str, list[dict[Any, int]]]:
    """Run the three variants of the same windowed sum side by side; each window as a dict."""
    with Context(master) as ctx, tempfile.TemporaryDirectory() as directory:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.checkpoint(directory)
        stream = ssc.queueStream(batches)
        raw = collect_batches(stream)           # computes every batch, so the queue advances once a batch
        variants = {
            "inverse": stream.reduceByKeyAndWindow(operator.add, operator.sub, window, slide),
            "filtered": stream.reduceByKeyAndWindow(operator.add, operator.sub, window, slide,
                                                    filterFunc=lambda kv: kv[1] != 0),
            "recomputed": stream.reduceByKeyAndWindow(operator.add, None, window, slide),
            "partitioned": stream.reduceByKeyAndWindow(operator.add, operator.sub, window, slide, 3),
        }
        collected = {name: collect_batches(s) for name, s in variants.items()}
        ssc.start()
        try:
            for _ in batches:
                advance_batch(ssc)
            ssc.awaitTerminationOrTimeout(0)
        finally:
            ssc.stop(stopSparkContext=False)
    result = {name: [dict(b) for b in out] for name, out in collected.items()}
    result["naive"] = naive_windows(raw, window, slide)
    return result


def check(result: dict[str, list[dict[Any, int]]], window: int, slide: int) -> None:
    naive = result["naive"]
    assert result["recomputed"] == naive
    assert result["filtered"] == naive
    if window >= 5 * slide:
        # the inverse path keeps keys whose values all left the window, at 0
        dropped = [{k: v for k, v in w.items() if v != 0} for w in result["inverse"]]
        assert dropped == naive
        assert all(v >= 0 for w in result["inverse"] for v in w.values())
    else:
        assert result["inverse"] == naive
    inverse_partitioned = [{k: v for k, v in w.items() if v != 0} for w in result["partitioned"]]
    assert inverse_partitioned == naive


@settings(max_examples=80, deadline=None, database=None)
@given(batches=batches_strategy, shape=window_shapes())
def test_inverse_equals_recomputation_local(batches: list, shape: tuple[int, int]) -> None:
    window, slide = shape
    check(run_windows("local", batches, window, slide), window, slide)


@settings(max_examples=6, deadline=None, database=None)
@given(batches=batches_strategy, shape=window_shapes())
def test_inverse_equals_recomputation_local2(batches: list, shape: tuple[int, int]) -> None:
    window, slide = shape
    check(run_windows("local[2]", batches, window, slide), window, slide)


def test_long_inverse_window_example() -> None:
    """A fixed example on the inverse path where keys come, go and come back."""
    batches = [[("a", 1)], [("b", 2)], [], [], [], [], [("a", 3)], [], [], [], [], [], [("b", 1)]]
    result = run_windows("local", batches, 5, 1)
    check(result, 5, 1)
    assert result["inverse"][5:8] == [{"a": 0, "b": 2}, {"a": 3, "b": 0}, {"a": 3, "b": 0}]
    assert result["naive"][5:8] == [{"b": 2}, {"a": 3}, {"a": 3}]
    assert result["inverse"][12] == {"a": 0, "b": 1}
