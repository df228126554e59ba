"""Per-batch operators: input batches -> function -> exact expected batches (manual clock)."""

from __future__ import annotations

import datetime as dt
import operator
from typing import Any

import pytest

from dstream import StreamingContext
from dstream.storagelevel import StorageLevel
from dstream.streaming.testing import advance_batch, collect_batches

INPUT = [[1, 2, 3, 4], [5, 6], [], [7]]

# (name, function, expected batches); outputs are sorted per batch
ELEMENTWISE = [
    ("map", lambda s: s.map(lambda x: x * 10), [[10, 20, 30, 40], [50, 60], [], [70]]),
    ("flatMap", lambda s: s.flatMap(lambda x: [x, -x]),
     [[-4, -3, -2, -1, 1, 2, 3, 4], [-6, -5, 5, 6], [], [-7, 7]]),
    ("filter", lambda s: s.filter(lambda x: x % 2), [[1, 3], [5], [], [7]]),
    ("count", lambda s: s.count(), [[4], [2], [0], [1]]),
    ("countByValue", lambda s: s.map(lambda x: x % 2).countByValue(),
     [[(0, 2), (1, 2)], [(0, 1), (1, 1)], [], [(1, 1)]]),
    ("reduce", lambda s: s.reduce(operator.add), [[10], [11], [], [7]]),
    ("reduce non-commutative-safe", lambda s: s.map(lambda x: [x]).reduce(operator.add).map(sorted),
     [[[1, 2, 3, 4]], [[5, 6]], [], [[7]]]),
    ("map chain folds", lambda s: s.map(lambda x: x + 1).filter(lambda x: x > 2).map(str),
     [["3", "4", "5"], ["6", "7"], [], ["8"]]),
    ("union with itself", lambda s: s.union(s), [[1, 1, 2, 2, 3, 3, 4, 4], [5, 5, 6, 6], [], [7, 7]]),
    ("transform(rdd)", lambda s: s.transform(lambda rdd: rdd.map(lambda x: x * x)),
     [[1, 4, 9, 16], [25, 36], [], [49]]),
    ("transform(time, rdd)", lambda s: s.transform(
        lambda t, rdd: rdd.map(lambda x, s=int(t.timestamp()): (s, x)).filter(lambda p: p[1] < 3)),
     [[(1, 1), (1, 2)], [], [], []]),
    ("repartition", lambda s: s.repartition(3).glom().map(len).count(), [[3], [3], [3], [3]]),
    ("cache", lambda s: s.map(lambda x: -x).cache(), [[-4, -3, -2, -1], [-6, -5], [], [-7]]),
    ("persist", lambda s: s.map(lambda x: -x).persist(StorageLevel.MEMORY_AND_DISK),
     [[-4, -3, -2, -1], [-6, -5], [], [-7]]),
]


@pytest.mark.parametrize("name, func, expected", ELEMENTWISE, ids=[c[0] for c in ELEMENTWISE])
def test_elementwise_operators(run: Any, name: str, func: Any, expected: list) -> None:
    assert run(INPUT, func) == expected


# Partition-dependent operators: queued lists are sliced into defaultParallelism partitions
# (1 under local, 2 under local[2]); an explicitly queued [] has that many empty partitions.
PARTITIONED = {
    "local": {
        "glom": [[[1, 2, 3, 4]], [[5, 6]], [[]], [[7]]],
        "mapPartitions": [[10], [11], [0], [7]],
        "mapPartitionsWithIndex": [[(0, 4)], [(0, 2)], [(0, 0)], [(0, 1)]],
    },
    "local[2]": {
        "glom": [[[1, 2], [3, 4]], [[5], [6]], [[], []], [[], [7]]],
        "mapPartitions": [[3, 7], [5, 6], [0, 0], [0, 7]],
        "mapPartitionsWithIndex": [[(0, 2), (1, 2)], [(0, 1), (1, 1)], [(0, 0), (1, 0)],
                                   [(0, 0), (1, 1)]],
    },
}
PARTITIONED["dask-local[2]"] = PARTITIONED["local[2]"]      # two worker processes as well
PARTITION_FUNCS = {
    "glom": lambda s: s.glom(),
    "mapPartitions": lambda s: s.mapPartitions(lambda it: [sum(it)]),
    "mapPartitionsWithIndex": lambda s: s.mapPartitionsWithIndex(lambda i, it: [(i, sum(1 for _ in it))]),
}


@pytest.mark.parametrize("ctx", ["local", "local[2]", "dask-local[2]"], indirect=True)
@pytest.mark.parametrize("op", sorted(PARTITION_FUNCS))
def test_partition_operators(ctx: Any, run: Any, op: str) -> None:
    assert run(INPUT, PARTITION_FUNCS[op], sort=False) == PARTITIONED[ctx.master][op]


@pytest.mark.parametrize("ctx", ["local", "local[2]", "dask-local[2]"], indirect=True)
def test_queue_exhausted_gives_no_partitions(ctx: Any, run: Any) -> None:
    """A queued ``[]`` is ``parallelize([])``; an exhausted queue gives ``emptyRDD()``, as in Spark."""
    n = ctx.defaultParallelism
    glommed = run([[1], []], lambda s: s.glom(), n=4, sort=False)
    assert glommed == [[[]] * (n - 1) + [[1]], [[]] * n, [], []]


def test_count_of_exhausted_queue_is_nothing(run: Any) -> None:
    assert run([[1, 2], []], lambda s: s.count(), n=4) == [[2], [0], [], []]


def test_queue_stream_all_at_once_then_empty(run: Any, ssc: StreamingContext) -> None:
    stream = ssc.queueStream([[1], [2, 3], [4]], oneAtATime=False)
    batches = collect_batches(stream)
    ssc.start()
    for _ in range(3):
        advance_batch(ssc)
    assert batches == [[1, 2, 3, 4], [], []]


def test_queue_stream_default_after_queue(ctx: Any, ssc: StreamingContext) -> None:
    stream = ssc.queueStream([[1]], default=ctx.parallelize(["d"], 1))
    batches = collect_batches(stream)
    ssc.start()
    for _ in range(3):
        advance_batch(ssc)
    assert batches == [[1], ["d"], ["d"]]


def test_queue_stream_of_rdds(ctx: Any, ssc: StreamingContext) -> None:
    stream = ssc.queueStream([ctx.parallelize([1, 2], 2), ctx.parallelize([3], 1)])
    batches = collect_batches(stream.glom())
    ssc.start()
    advance_batch(ssc), advance_batch(ssc)
    assert batches == [[[1], [2]], [[3]]]


def test_transform_forms_and_batch_time(ssc: StreamingContext) -> None:
    seen: list[Any] = []

    def with_time(time: dt.datetime, rdd: Any) -> Any:
        seen.append(time)
        return rdd

    collect_batches(ssc.queueStream([[1], [2]]).transform(with_time))
    ssc.start()
    advance_batch(ssc), advance_batch(ssc)
    assert seen == [dt.datetime.fromtimestamp(1), dt.datetime.fromtimestamp(2)]
    assert all(t.tzinfo is None for t in seen)


def test_transform_must_return_an_rdd(ssc: StreamingContext) -> None:
    collect_batches(ssc.queueStream([[1]]).transform(lambda rdd: rdd.collect()))
    ssc.start()
    advance_batch(ssc)
    with pytest.raises(TypeError, match="must return an RDD, got list"):
        ssc.awaitTerminationOrTimeout(0)


def test_transform_with(run: Any) -> None:
    result = run([[1, 2], [3]], lambda a, b: a.transformWith(lambda x, y: x.cartesian(y), b),
                 inputs2=[["a"], ["b", "c"]])
    assert result == [[(1, "a"), (2, "a")], [(3, "b"), (3, "c")]]


def test_transform_with_time(run: Any) -> None:
    result = run([[1], [2]], lambda a, b: a.transformWith(
        lambda t, x, y: x.union(y).map(lambda v, s=t.second: (s, v)), b), inputs2=[[10], [20]])
    assert result == [[(1, 1), (1, 10)], [(2, 2), (2, 20)]]


def test_streaming_context_union(ssc: StreamingContext) -> None:
    streams = [ssc.queueStream([[i], [i * 10]]) for i in (1, 2, 3)]
    batches = collect_batches(ssc.union(*streams))
    ssc.start()
    advance_batch(ssc), advance_batch(ssc)
    assert batches == [[1, 2, 3], [10, 20, 30]]


def test_streaming_context_union_of_one_is_the_stream(ssc: StreamingContext) -> None:
    stream = ssc.queueStream([[1]])
    assert ssc.union(stream) is stream


def test_streaming_context_transform(ssc: StreamingContext) -> None:
    a = ssc.queueStream([[("k", 1)], [("j", 2)]])
    b = ssc.queueStream([[("k", "x")], []])
    seen: list[Any] = []

    def join_all(rdds: Any) -> Any:
        seen.append(type(rdds))
        return rdds[0].join(rdds[1])

    batches = collect_batches(ssc.transform([a, b], join_all))
    ssc.start()
    advance_batch(ssc), advance_batch(ssc)
    assert batches == [[("k", (1, "x"))], []]
    assert seen == [tuple, tuple]


def test_slice_returns_remembered_rdds(ssc: StreamingContext) -> None:
    stream = ssc.queueStream([[1], [2], [3], [4]]).map(lambda x: x * 10)
    stream.foreachRDD(lambda rdd: None)
    ssc.remember(10)
    ssc.start()
    for _ in range(4):
        advance_batch(ssc)
    rdds = stream.slice(dt.datetime.fromtimestamp(2), dt.datetime.fromtimestamp(3))
    assert [r.collect() for r in rdds] == [[20], [30]]
    assert [r.collect() for r in stream.slice(1, 4)] == [[10], [20], [30], [40]]
    # times between batches are aligned down to the batch grid (both ends, as in Spark)
    assert [r.collect() for r in stream.slice(1.5, 2.5)] == [[10], [20]]


def test_slice_before_start_raises(ssc: StreamingContext) -> None:
    stream = ssc.queueStream([[1]])
    with pytest.raises(ValueError, match="start the StreamingContext first"):
        stream.slice(0, 1)


def test_remember_keeps_rdds_longer(ssc: StreamingContext) -> None:
    stream = ssc.queueStream([[i] for i in range(8)])
    stream.foreachRDD(lambda rdd: None)
    ssc.remember(5)
    ssc.start()
    for _ in range(8):
        advance_batch(ssc)
    assert sorted(stream.generated) == [4000, 5000, 6000, 7000, 8000]


def test_without_remember_only_the_last_batch_is_kept(ssc: StreamingContext) -> None:
    stream = ssc.queueStream([[i] for i in range(4)])
    stream.foreachRDD(lambda rdd: None)
    ssc.start()
    for _ in range(4):
        advance_batch(ssc)
    assert sorted(stream.generated) == [4000]


def test_cache_computes_each_record_once_for_several_outputs(ssc: StreamingContext) -> None:
    calls: list[int] = []

    def traced(x: int) -> int:
        calls.append(x)
        return x

    cached = ssc.queueStream([[1, 2], [3]]).map(traced).cache()
    levels: list[StorageLevel] = []
    cached.foreachRDD(lambda rdd: levels.append(rdd.getStorageLevel()))
    first = collect_batches(cached)
    second = collect_batches(cached.map(lambda x: -x))
    ssc.start()
    advance_batch(ssc), advance_batch(ssc)
    assert first == [[1, 2], [3]] and second == [[-1, -2], [-3]]
    assert sorted(calls) == [1, 2, 3]
    assert levels == [StorageLevel.MEMORY_ONLY, StorageLevel.MEMORY_ONLY]


def test_uncached_stream_recomputes_for_each_output(ssc: StreamingContext) -> None:
    calls: list[int] = []
    stream = ssc.queueStream([[1, 2]]).map(lambda x: calls.append(x) or x)
    collect_batches(stream)
    collect_batches(stream)
    ssc.start()
    advance_batch(ssc)
    assert sorted(calls) == [1, 1, 2, 2]


def test_checkpoint_interval_checkpoints_every_interval(ssc: StreamingContext, checkpoint_dir: str) -> None:
    ssc.checkpoint(checkpoint_dir)
    calls: list[int] = []
    stream = ssc.queueStream([[1], [2], [3], [4]]).map(lambda x: calls.append(x) or x + 1).checkpoint(2)
    rdds: list[Any] = []
    stream.foreachRDD(lambda rdd: rdds.append(rdd) or rdd.collect())
    ssc.start()
    for _ in range(4):
        advance_batch(ssc)
    assert [r.isCheckpointed() for r in rdds] == [False, True, False, True]
    assert calls == [1, 2, 3, 4]       # persisted too: writing the checkpoint does not recompute
    assert stream.storage_level == StorageLevel.MEMORY_ONLY
    assert [r.collect() for r in rdds[1::2]] == [[3], [5]]


def test_checkpoint_interval_must_be_a_multiple_of_the_slide(ssc: StreamingContext) -> None:
    stream = ssc.queueStream([[1]])
    with pytest.raises(ValueError,
                       match=r"DStream.checkpoint on queueStream-0: interval 1.5 s must be a multiple"):
        stream.checkpoint(1.5)


def test_checkpointed_stream_needs_a_checkpoint_directory(ssc: StreamingContext) -> None:
    ssc.queueStream([[1]]).checkpoint(2).foreachRDD(lambda rdd: None)
    with pytest.raises(ValueError, match="queueStream-0 .* is checkpointed and needs a checkpoint directory"):
        ssc.start()


def test_an_rdd_remembered_at_several_times_stays_cached(ctx: Any, ssc: StreamingContext) -> None:
    """A queue's default RDD is the stream's RDD at every batch: forgetting one batch must
    not unpersist it for the others, so it is computed once."""
    calls: list[int] = []
    default = ctx.parallelize([1, 2], 1).map(lambda x: calls.append(x) or x)
    windows = collect_batches(ssc.queueStream([], default=default).window(2, 1).count())
    ssc.start()
    for _ in range(8):
        advance_batch(ssc)
    assert windows == [[2]] + [[4]] * 7
    assert calls == [1, 2]


def test_checkpointed_rdd_remembered_at_several_times(ctx: Any, ssc: StreamingContext,
                                                     checkpoint_dir: str) -> None:
    ssc.checkpoint(checkpoint_dir)
    stream = ssc.queueStream([], default=ctx.parallelize([1, 2], 1)).checkpoint(2)
    sums = collect_batches(stream.window(4, 2).reduce(operator.add))
    ssc.start()
    for _ in range(12):
        advance_batch(ssc)
    assert sums == [[6]] + [[12]] * 5
