"""Windowed operators: exact per-batch outputs under the manual clock (batches at t = 1, 2, ... s;
the stream's zero time is t = 0, so the first windows start before the first batch)."""

from __future__ import annotations

import operator
from typing import Any

import pytest

from dstream import StreamingContext
from dstream.streaming.testing import advance_batch, collect_batches


def num_partitions(stream: Any) -> Any:
    """A stream of one record per batch: the batch RDD's partition count."""
    return stream.transform(lambda rdd: rdd.ctx.parallelize([rdd.getNumPartitions()], 1))


# ---------------------------------------------------------------------- window
WINDOWS = [
    ("window(3, 1): partial windows first", lambda s: s.window(3, 1), 6,
     [[1], [1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5]]),
    ("window(2): slide defaults to the batch", lambda s: s.window(2), 5,
     [[1], [1, 2], [2, 3], [3, 4], [4, 5]]),
    ("window(3, 2): emits every second batch", lambda s: s.window(3, 2), 6,
     [[1, 2], [2, 3, 4], [4, 5]]),
    ("window(2, 2): tumbling", lambda s: s.window(2, 2), 6, [[1, 2], [3, 4], [5]]),
    # a queue is dequeued only for batch times something asks for (as in Spark): t = 3 and 6
    ("window(1, 3): sampling", lambda s: s.window(1, 3), 6, [[1], [2]]),
    ("window of a window", lambda s: s.window(2, 2).window(4, 2), 6, [[1, 2], [1, 2, 3, 4], [3, 4, 5]]),
    ("count of a window", lambda s: s.window(3, 1).count(), 7, [[1], [2], [3], [3], [3], [2], [1]]),
]


@pytest.mark.parametrize("name, func, n, expected", WINDOWS, ids=[c[0] for c in WINDOWS])
def test_window(run: Any, name: str, func: Any, n: int, expected: list) -> None:
    assert run([[1], [2], [3], [4], [5]], func, n) == expected


def test_window_emits_at_multiples_of_the_slide(ssc: StreamingContext) -> None:
    times: list[int] = []
    ssc.queueStream([[1]] * 6).window(4, 2).foreachRDD(
        lambda t, rdd: times.append(int(t.timestamp() * 1000)))
    ssc.start()
    for _ in range(6):
        advance_batch(ssc)
    assert times == [2000, 4000, 6000]


@pytest.mark.parametrize("ctx", ["local[2]", "dask-local[2]"], indirect=True)
def test_window_partition_counts(ctx: Any, run: Any) -> None:
    """A window unions its batches' partitions (2, 4, 6 ... under local[2]), except over a
    hash-partitioned stream, whose partitioner it keeps."""
    assert run([[1], [2], [3], [4]], lambda s: num_partitions(s.window(3, 1))) == [[2], [4], [6], [6]]


@pytest.mark.parametrize("ctx", ["local[2]", "dask-local[2]"], indirect=True)
def test_window_over_partitioned_stream_keeps_partitioner(ctx: Any, run: Any) -> None:
    result = run([[("a", 1)], [("b", 1)], [("c", 1)], [("a", 1)]],
                 lambda s: num_partitions(s.reduceByKey(operator.add).window(3, 1)))
    assert result == [[2], [2], [2], [2]]


@pytest.mark.parametrize("ctx", ["local[2]", "dask-local[2]"], indirect=True)
@pytest.mark.parametrize("window, inverse, num, expected", [
    (3, None, None, 2), (3, operator.sub, None, 2), (5, operator.sub, None, 2),
    (3, None, 3, 3), (3, operator.sub, 3, 3), (5, operator.sub, 3, 3)])
def test_reduce_by_key_and_window_partition_counts(ctx: Any, run: Any, checkpoint_dir: str, window: int,
                                                   inverse: Any, num: Any, expected: int) -> None:
    result = run([[("a", 1)], [("b", 1)], [], [("a", 1)], [], [], []],
                 lambda s: num_partitions(s.reduceByKeyAndWindow(operator.add, inverse, window, 1, num)),
                 checkpoint=checkpoint_dir)
    assert result == [[expected]] * 7


# ---------------------------------------------------------------------- reduceByKeyAndWindow
KV = [[("a", 1)], [("a", 1), ("b", 1)], [("b", 1)], [], [], [], [], []]


def test_reduce_by_key_and_window_without_inverse_drops_expired_keys(run: Any) -> None:
    result = run(KV, lambda s: s.reduceByKeyAndWindow(operator.add, None, 3, 1))
    assert result == [[("a", 1)], [("a", 2), ("b", 1)], [("a", 2), ("b", 2)], [("a", 1), ("b", 2)],
                      [("b", 1)], [], [], []]


def test_short_window_ignores_the_inverse(run: Any, checkpoint_dir: str) -> None:
    """Below five slides PySpark recomputes the window: expired keys disappear."""
    result = run(KV, lambda s: s.reduceByKeyAndWindow(operator.add, operator.sub, 3, 1),
                 checkpoint=checkpoint_dir)
    assert result == [[("a", 1)], [("a", 2), ("b", 1)], [("a", 2), ("b", 2)], [("a", 1), ("b", 2)],
                      [("b", 1)], [], [], []]


def test_inverse_path_keeps_expired_keys_with_zero(run: Any, checkpoint_dir: str) -> None:
    """From five slides on the inverse is used: ("b", 0) stays."""
    result = run(KV, lambda s: s.reduceByKeyAndWindow(operator.add, operator.sub, 5, 1),
                 checkpoint=checkpoint_dir)
    assert result == [[("a", 1)], [("a", 2), ("b", 1)], [("a", 2), ("b", 2)], [("a", 2), ("b", 2)],
                      [("a", 2), ("b", 2)], [("a", 1), ("b", 2)], [("a", 0), ("b", 1)],
                      [("a", 0), ("b", 0)]]


def test_same_window_without_inverse_drops_the_keys(run: Any) -> None:
    result = run(KV, lambda s: s.reduceByKeyAndWindow(operator.add, None, 5, 1))
    assert result[5:] == [[("a", 1), ("b", 2)], [("b", 1)], []]


def test_filter_func_removes_expired_keys(run: Any, checkpoint_dir: str) -> None:
    result = run(KV, lambda s: s.reduceByKeyAndWindow(operator.add, operator.sub, 5, 1,
                                                      filterFunc=lambda kv: kv[1] > 0),
                 checkpoint=checkpoint_dir)
    assert result[5:] == [[("a", 1), ("b", 2)], [("b", 1)], []]


def test_filter_func_is_carried_into_the_next_window(run: Any, checkpoint_dir: str) -> None:
    """The filtered result is the state of the next window: ("a", 1) filtered out at t=1 is
    never added back, so at t=6 expiring it leaves 2 (a recomputation would give 3)."""
    result = run([[("a", 1)], [("a", 2)], [("a", 1)], [], [], [], [], []],
                 lambda s: s.reduceByKeyAndWindow(operator.add, operator.sub, 5, 1,
                                                  filterFunc=lambda kv: kv[1] >= 2),
                 checkpoint=checkpoint_dir)
    assert result == [[], [("a", 2)], [("a", 3)], [("a", 3)], [("a", 3)], [("a", 2)], [], []]


def test_filter_func_applies_on_recomputed_windows(run: Any, checkpoint_dir: str) -> None:
    result = run([[("a", 1)], [("a", 2)], [("a", 1)], []],
                 lambda s: s.reduceByKeyAndWindow(operator.add, operator.sub, 2, 1,
                                                  filterFunc=lambda kv: kv[1] >= 3),
                 checkpoint=checkpoint_dir)
    assert result == [[], [("a", 3)], [("a", 3)], []]


def test_filter_func_is_ignored_without_inverse(run: Any) -> None:
    result = run([[("a", 1)], [("a", 2)]],
                 lambda s: s.reduceByKeyAndWindow(operator.add, None, 5, 1, filterFunc=lambda kv: False))
    assert result == [[("a", 1)], [("a", 3)]]


def test_slide_of_two_batches_with_inverse(run: Any, checkpoint_dir: str) -> None:
    ones = [[("a", 1)]] * 14
    with_inverse = run(ones, lambda s: s.reduceByKeyAndWindow(operator.add, operator.sub, 10, 2),
                       checkpoint=checkpoint_dir)
    assert with_inverse == [[("a", 2)], [("a", 4)], [("a", 6)], [("a", 8)], [("a", 10)], [("a", 10)],
                            [("a", 10)]]


def test_slide_of_two_batches_recomputed(run: Any) -> None:
    ones = [[("a", 1)]] * 9 + [[]] * 4
    result = run(ones, lambda s: s.reduceByKeyAndWindow(operator.add, None, 4, 2), 13)
    assert result == [[("a", 2)], [("a", 4)], [("a", 4)], [("a", 4)], [("a", 3)], [("a", 1)]]


def test_window_not_multiple_of_slide_with_inverse(run: Any, checkpoint_dir: str) -> None:
    """Window 11 s, slide 2 s (at least five slides: the inverse path): (t-11, t] at t = 2, 4, ..."""
    batches = [[("a", t)] for t in range(1, 15)]
    result = run(batches, lambda s: s.reduceByKeyAndWindow(operator.add, operator.sub, 11, 2),
                 checkpoint=checkpoint_dir)
    assert result == [[("a", sum(range(max(1, t - 10), t + 1)))] for t in range(2, 15, 2)]
    assert result[-2:] == [[("a", 77)], [("a", 99)]]


def test_reduce_by_window(run: Any, checkpoint_dir: str) -> None:
    nums = [[1, 2], [3], [], [], [], [], []]
    assert run(nums, lambda s: s.reduceByWindow(operator.add, operator.sub, 5, 1),
               checkpoint=checkpoint_dir) == [[3], [6], [6], [6], [6], [3], [0]]


def test_reduce_by_window_without_inverse(run: Any) -> None:
    nums = [[1, 2], [3], [], [], []]
    assert run(nums, lambda s: s.reduceByWindow(max, None, 2, 1)) == [[2], [3], [3], [], []]


def test_count_by_window_five_batches_gives_zero_when_empty(run: Any, checkpoint_dir: str) -> None:
    result = run([[1], [], [], [], [], [], []], lambda s: s.countByWindow(5, 1), checkpoint=checkpoint_dir)
    assert result == [[1], [1], [1], [1], [1], [0], [0]]


def test_count_by_window_three_batches_gives_nothing_when_empty(run: Any, checkpoint_dir: str) -> None:
    result = run([[1], [], [], [], []], lambda s: s.countByWindow(3, 1), checkpoint=checkpoint_dir)
    assert result == [[1], [1], [1], [], []]


def test_count_by_window_slide_two(run: Any, checkpoint_dir: str) -> None:
    result = run([[1, 1], [1], [1], [], [], []], lambda s: s.countByWindow(4, 2), checkpoint=checkpoint_dir)
    assert result == [[3], [4], [1]]


def test_count_by_value_and_window_drops_zero_counts(run: Any, checkpoint_dir: str) -> None:
    result = run([[1], [1, 2], [], [], [], [], []], lambda s: s.countByValueAndWindow(5, 1),
                 checkpoint=checkpoint_dir)
    assert result == [[(1, 1)], [(1, 2), (2, 1)], [(1, 2), (2, 1)], [(1, 2), (2, 1)], [(1, 2), (2, 1)],
                      [(1, 1), (2, 1)], []]


def test_count_by_value_and_window_short(run: Any, checkpoint_dir: str) -> None:
    result = run([["x"], ["x", "y"], ["y"], []], lambda s: s.countByValueAndWindow(2, 1, 3),
                 checkpoint=checkpoint_dir)
    assert result == [[("x", 1)], [("x", 2), ("y", 1)], [("x", 1), ("y", 2)], [("y", 1)]]


def test_group_by_key_and_window_keeps_empty_groups(run: Any, checkpoint_dir: str) -> None:
    result = run([[("a", 1)], [("b", 2), ("a", 3)], [], [], [], [], []],
                 lambda s: s.groupByKeyAndWindow(5, 1).mapValues(sorted), checkpoint=checkpoint_dir)
    assert result == [[("a", [1])], [("a", [1, 3]), ("b", [2])], [("a", [1, 3]), ("b", [2])],
                      [("a", [1, 3]), ("b", [2])], [("a", [1, 3]), ("b", [2])],
                      [("a", [3]), ("b", [2])], [("a", []), ("b", [])]]


def test_group_by_key_and_window_short_window_drops_keys(run: Any, checkpoint_dir: str) -> None:
    result = run([[("a", 1)], [("b", 2)], [], [], []], lambda s: s.groupByKeyAndWindow(3, 1),
                 checkpoint=checkpoint_dir)
    assert result == [[("a", [1])], [("a", [1]), ("b", [2])], [("a", [1]), ("b", [2])], [("b", [2])], []]


# ---------------------------------------------------------------------- definition errors
@pytest.mark.parametrize("call, message", [
    (lambda s: s.window(1.5), r"queueStream-0: windowDuration 1.5 s must be a multiple"),
    (lambda s: s.window(2, 0.5), r"queueStream-0: slideDuration 0.5 s must be a multiple"),
    (lambda s: s.reduceByKeyAndWindow(operator.add, None, 2.5, 1), r"windowDuration 2.5 s"),
    (lambda s: s.reduceByKeyAndWindow(operator.add, operator.sub, 4, 1.5), r"slideDuration 1.5 s"),
    (lambda s: s.reduceByWindow(operator.add, None, 3.2, 1), r"windowDuration 3.2 s"),
    (lambda s: s.countByWindow(3, 1.1), r"slideDuration 1.1 s"),
    (lambda s: s.countByValueAndWindow(0.3, 1), r"windowDuration 0.3 s"),
    (lambda s: s.groupByKeyAndWindow(2, 0.7), r"slideDuration 0.7 s"),
    (lambda s: s.window(2, 2).window(3, 2), r"queueStream-0.window: windowDuration 3 s must be a multiple"
                                            r" of the parent stream's slide \(batch\) duration \(2 s\)"),
    (lambda s: s.window(0), r"windowDuration must be positive"),
])
def test_window_argument_errors_at_definition(ssc: StreamingContext, call: Any, message: str) -> None:
    stream = ssc.queueStream([[1]])
    with pytest.raises(ValueError, match=message):
        call(stream)


@pytest.mark.parametrize("define", [
    lambda s: s.map(lambda x: (x, 1)).reduceByKeyAndWindow(operator.add, operator.sub, 5, 1),
    lambda s: s.map(lambda x: (x, 1)).reduceByKeyAndWindow(operator.add, operator.sub, 2, 1),
    lambda s: s.countByWindow(2, 1),
    lambda s: s.countByValueAndWindow(2, 1),
    lambda s: s.map(lambda x: (x, 1)).groupByKeyAndWindow(2, 1),
    lambda s: s.reduceByWindow(operator.add, operator.sub, 3, 1),
], ids=["rbkw-long", "rbkw-short", "countByWindow", "countByValueAndWindow", "groupByKeyAndWindow",
        "reduceByWindow"])
def test_inverse_window_operators_need_a_checkpoint_directory(ssc: StreamingContext, define: Any) -> None:
    define(ssc.queueStream([[1]])).foreachRDD(lambda rdd: None)
    with pytest.raises(ValueError, match="reduceByKeyAndWindow at test_window.py:.* needs a checkpoint directory"):
        ssc.start()
    assert ssc.getState() == "INITIALIZED"


def test_window_without_inverse_needs_no_checkpoint_directory(run: Any) -> None:
    assert run([[("a", 1)]], lambda s: s.reduceByKeyAndWindow(operator.add, None, 2, 1)) == [[("a", 1)]]


def test_context_checkpoint_dir_is_enough(ctx: Any, run: Any, checkpoint_dir: str) -> None:
    ctx.setCheckpointDir(checkpoint_dir)
    assert run([[1], [2]], lambda s: s.countByWindow(5, 1)) == [[1], [2]]


def test_start_can_be_retried_after_setting_the_directory(ssc: StreamingContext, checkpoint_dir: str) -> None:
    batches = collect_batches(ssc.queueStream([[1], [2]]).countByWindow(5, 1))
    with pytest.raises(ValueError, match="needs a checkpoint directory"):
        ssc.start()
    ssc.checkpoint(checkpoint_dir)
    ssc.start()
    advance_batch(ssc), advance_batch(ssc)
    assert batches == [[1], [2]]


# ---------------------------------------------------------------------- efficiency
def test_inverse_window_processes_each_record_once(ssc: StreamingContext, checkpoint_dir: str) -> None:
    """A 20-batch window over 30 batches: the upstream map sees each record once, and the
    reduce function runs a few times per batch (never once per batch in the window)."""
    ssc.checkpoint(checkpoint_dir)
    mapped: list[int] = []
    reduced: list[int] = []

    def pair(x: int) -> tuple[str, int]:
        mapped.append(x)
        return ("k", x)

    def add(a: int, b: int) -> int:
        reduced.append(1)
        return a + b

    batches = [[2 * t, 2 * t + 1] for t in range(30)]
    windowed = ssc.queueStream(batches).map(pair).reduceByKeyAndWindow(add, operator.sub, 20, 1)
    out = collect_batches(windowed)
    ssc.start()
    for _ in range(30):
        advance_batch(ssc)
    assert sorted(mapped) == list(range(60))
    assert out[-1] == [("k", sum(range(20, 60)))]
    assert len(reduced) <= 2 * 30      # one per batch's own pair, one to add it to the window


def test_recomputed_window_reduces_every_batch_in_it(ssc: StreamingContext) -> None:
    """The contrast: without the inverse each slide reduces the whole window again."""
    reduced: list[int] = []

    def add(a: int, b: int) -> int:
        reduced.append(1)
        return a + b

    windowed = ssc.queueStream([[("k", 1)]] * 30).reduceByKeyAndWindow(add, None, 20, 1)
    collect_batches(windowed)
    ssc.start()
    for _ in range(30):
        advance_batch(ssc)
    assert len(reduced) > 10 * 30


@pytest.mark.parametrize("ctx", ["local", "local[2]", "dask-local[2]"], indirect=True)
def test_expired_batch_counts_are_not_merged_again(ctx: Any, ssc: StreamingContext,
                                                   checkpoint_dir: str) -> None:
    """Each batch's reduced counts are kept (as Spark's ReducedWindowedDStream keeps them):
    when a batch leaves the window its counts are read back, not merged again from the
    shuffle. Every batch has the key in both of its partitions, so merging the batch costs one
    call of the reduce function; adding it to the window, one more."""
    ssc.checkpoint(checkpoint_dir)
    calls = ctx.accumulator(0)

    def add(a: int, b: int) -> int:
        calls.add(1)
        return a + b

    batches = [ctx.parallelize([("k", 1), ("k", 1)], 2) for _ in range(12)]
    windowed = ssc.queueStream(batches).reduceByKeyAndWindow(add, operator.sub, 5, 1)
    out = collect_batches(windowed)
    ssc.start()
    advance_batch(ssc)
    assert out == [[("k", 2)]] and calls.value == 1      # the batch's merge, no window yet
    for _ in range(11):
        advance_batch(ssc)
    assert out[-1] == [("k", 10)]
    assert calls.value == 1 + 2 * 11       # 7 of the 11 also expired a batch: no extra calls
