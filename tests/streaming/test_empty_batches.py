"""Empty batches, as PySpark makes them, through every input stream and every windowed and
stateful operator.

An input stream's batch without data is an RDD without partitions (Spark's ``emptyRDD``): a
queue that is exhausted, a file stream without a new file, a receiver that stored nothing. A
queued ``[]`` is ``parallelize([])``, with ``defaultParallelism`` empty partitions. The two
differ where an operator counts partitions: ``count()`` prints ``[0]`` for the second and
nothing for the first.

The table's input is ``[[], [x]]`` and then the exhausted queue: batch 1 has empty partitions,
batch 2 one record, every later batch no partitions at all.
"""

from __future__ import annotations

import operator
import os
from typing import Any, Callable

import pytest

from dstream import Context, Receiver, StreamingContext
from dstream.streaming import DStream, State, StateSpec
from dstream.streaming.testing import advance_batch, collect_batches

from .test_receiver_streams import LineServer


def num_partitions(stream: DStream) -> DStream:
    """One record per batch: the batch RDD's partition count."""
    return stream.transform(lambda rdd: rdd.ctx.parallelize([rdd.getNumPartitions()], 1))


def count_words(key: str, value: int | None, state: State) -> tuple[str, int]:
    total = (state.getOption() or 0) + (value or 0)
    state.update(total)
    return (key, total)


def add_to_state(values: list[int], state: int | None) -> int:
    return sum(values) + (state or 0)


VALUES = [[], [7]]
PAIRS = [[], [("a", 1)]]

# (name, input batches, operator, batches to run, expected records of each batch)
ROWS: list[tuple[str, list, Callable[[DStream], DStream], int, list]] = [
    # per-batch operators
    ("count", VALUES, lambda s: s.count(), 4, [[0], [1], [], []]),
    ("reduce", VALUES, lambda s: s.reduce(operator.add), 4, [[], [7], [], []]),
    ("countByValue", VALUES, lambda s: s.countByValue(), 4, [[], [(7, 1)], [], []]),
    ("glom", VALUES, lambda s: s.glom(), 4, [[[]], [[7]], [], []]),
    ("partitions of the batches", VALUES, num_partitions, 4, [[1], [1], [0], [0]]),
    ("repartition(3)", VALUES, lambda s: num_partitions(s.repartition(3)), 3, [[3], [3], [3]]),
    ("transform: RDD distinct", VALUES, lambda s: s.transform(lambda rdd: rdd.distinct()), 4,
     [[], [7], [], []]),
    ("transform: partitions of an RDD reduceByKey", PAIRS,
     lambda s: num_partitions(s.transform(lambda rdd: rdd.reduceByKey(operator.add))), 3, [[1], [1], [0]]),
    ("transform: RDD sortByKey, join, cogroup", PAIRS,
     lambda s: s.transform(lambda rdd: rdd.sortByKey().join(rdd.cogroup(rdd).mapValues(len))), 4,
     [[], [("a", (1, 2))], [], []]),
    ("reduceByKey", PAIRS, lambda s: s.reduceByKey(operator.add), 4, [[], [("a", 1)], [], []]),
    ("groupByKey", PAIRS, lambda s: s.groupByKey(), 4, [[], [("a", [1])], [], []]),
    ("combineByKey", PAIRS, lambda s: s.combineByKey(str, operator.add, operator.add), 3,
     [[], [("a", "1")], []]),
    ("join with itself", PAIRS, lambda s: s.join(s), 3, [[], [("a", (1, 1))], []]),
    ("fullOuterJoin with itself", PAIRS, lambda s: s.fullOuterJoin(s), 3, [[], [("a", (1, 1))], []]),
    ("cogroup with itself", PAIRS, lambda s: s.cogroup(s), 3, [[], [("a", ([1], [1]))], []]),
    ("union with itself", VALUES, lambda s: s.union(s).count(), 3, [[0], [2], []]),
    # windows
    ("window(2, 1)", VALUES, lambda s: s.window(2, 1), 4, [[], [7], [7], []]),
    ("partitions of window(2, 1)", VALUES, lambda s: num_partitions(s.window(2, 1)), 4,
     [[1], [2], [1], [0]]),
    ("count of window(2, 1)", VALUES, lambda s: s.window(2, 1).count(), 4, [[0], [1], [1], []]),
    ("countByWindow(3, 1): recomputed", VALUES, lambda s: s.countByWindow(3, 1), 5,
     [[], [1], [1], [1], []]),
    ("countByWindow(5, 1): with the inverse", VALUES, lambda s: s.countByWindow(5, 1), 7,
     [[], [1], [1], [1], [1], [1], [0]]),
    ("reduceByWindow(3, 1)", VALUES, lambda s: s.reduceByWindow(operator.add, None, 3, 1), 5,
     [[], [7], [7], [7], []]),
    ("reduceByWindow(5, 1) with the inverse", VALUES,
     lambda s: s.reduceByWindow(operator.add, operator.sub, 5, 1), 7, [[], [7], [7], [7], [7], [7], [0]]),
    ("reduceByKeyAndWindow(2, 1)", PAIRS, lambda s: s.reduceByKeyAndWindow(operator.add, None, 2, 1), 4,
     [[], [("a", 1)], [("a", 1)], []]),
    ("reduceByKeyAndWindow(5, 1) with the inverse", PAIRS,
     lambda s: s.reduceByKeyAndWindow(operator.add, operator.sub, 5, 1), 7,
     [[], [("a", 1)], [("a", 1)], [("a", 1)], [("a", 1)], [("a", 1)], [("a", 0)]]),
    ("reduceByKeyAndWindow(5, 1) with the inverse and a filter", PAIRS,
     lambda s: s.reduceByKeyAndWindow(operator.add, operator.sub, 5, 1, None, lambda kv: kv[1] > 0), 7,
     [[], [("a", 1)], [("a", 1)], [("a", 1)], [("a", 1)], [("a", 1)], []]),
    ("reduceByKeyAndWindow(4, 2): slides of two batches", PAIRS,
     lambda s: s.reduceByKeyAndWindow(operator.add, None, 4, 2), 8, [[("a", 1)], [("a", 1)], [], []]),
    ("groupByKeyAndWindow(2, 1)", PAIRS, lambda s: s.groupByKeyAndWindow(2, 1), 4,
     [[], [("a", [1])], [("a", [1])], []]),
    ("groupByKeyAndWindow(5, 1)", PAIRS, lambda s: s.groupByKeyAndWindow(5, 1), 7,
     [[], [("a", [1])], [("a", [1])], [("a", [1])], [("a", [1])], [("a", [1])], [("a", [])]]),
    ("countByValueAndWindow(5, 1)", VALUES, lambda s: s.countByValueAndWindow(5, 1), 7,
     [[], [(7, 1)], [(7, 1)], [(7, 1)], [(7, 1)], [(7, 1)], []]),
    # state
    ("updateStateByKey", PAIRS, lambda s: s.updateStateByKey(add_to_state), 4,
     [[], [("a", 1)], [("a", 1)], [("a", 1)]]),
    ("updateStateByKey with an initial RDD", PAIRS,
     lambda s: s.updateStateByKey(add_to_state, initialRDD=[("b", 5)]), 3,
     [[("b", 5)], [("a", 1), ("b", 5)], [("a", 1), ("b", 5)]]),
    ("mapWithState", PAIRS, lambda s: s.mapWithState(StateSpec.function(count_words)), 4,
     [[], [("a", 1)], [], []]),
    ("mapWithState snapshots", PAIRS,
     lambda s: s.mapWithState(StateSpec.function(count_words)).stateSnapshots(), 4,
     [[], [("a", 1)], [("a", 1)], [("a", 1)]]),
]


@pytest.mark.parametrize("name, inputs, func, n, expected", ROWS, ids=[row[0] for row in ROWS])
def test_empty_batches_through_operator(run: Any, checkpoint_dir: str, name: str, inputs: list,
                                        func: Callable[[DStream], DStream], n: int, expected: list) -> None:
    assert run(inputs, func, n, checkpoint=checkpoint_dir) == expected


@pytest.mark.parametrize("ctx", ["local[2]"], indirect=True)
def test_windows_and_state_over_empty_batches_on_worker_processes(ctx: Context, run: Any,
                                                                  checkpoint_dir: str) -> None:
    def define(s: DStream) -> DStream:
        pairs = s.map(lambda x: ("k", x))
        return (pairs.reduceByKeyAndWindow(operator.add, operator.sub, 5, 1)
                .union(pairs.groupByKeyAndWindow(2, 1).mapValues(len))
                .union(pairs.updateStateByKey(add_to_state).mapValues(lambda v: -v)))

    assert run([[], [3]], define, 7, checkpoint=checkpoint_dir) == [
        [], [("k", -3), ("k", 1), ("k", 3)], [("k", -3), ("k", 1), ("k", 3)], [("k", -3), ("k", 3)],
        [("k", -3), ("k", 3)], [("k", -3), ("k", 3)], [("k", -3), ("k", 0)]]


# ---------------------------------------------------------------------- input streams
class Silent(Receiver):
    """A receiver that connects to nothing and stores nothing."""

    def onStart(self) -> None:
        pass

    def onStop(self) -> None:
        pass


def partitions_of_first_batches(ssc: StreamingContext, stream: DStream, n: int) -> list[int]:
    counts = collect_batches(num_partitions(stream))
    ssc.start()
    try:
        for _ in range(n):
            advance_batch(ssc)
        ssc.awaitTerminationOrTimeout(0)
    finally:
        ssc.stop(stopSparkContext=False)
    return [batch[0] for batch in counts]


@pytest.mark.parametrize("ctx", ["local", "local[2]"], indirect=True)
def test_queue_stream_empty_batches_have_pysparks_partition_counts(ctx: Context,
                                                                    ssc: StreamingContext) -> None:
    """A queued ``[]`` is ``parallelize([])``; the exhausted queue is ``emptyRDD()``; an
    empty list as ``default`` is no default (PySpark tests ``if default``)."""
    p = ctx.defaultParallelism
    stream = ssc.queueStream([[], [1], []], default=[])
    all_at_once = ssc.queueStream([[], [1]], oneAtATime=False)
    assert partitions_of_first_batches(ssc, stream.union(all_at_once), 4) == [
        p + 2 * p, p + 0, p + 0, 0]


def test_exhausted_queue_with_a_default_gives_the_default(ctx: Context, ssc: StreamingContext) -> None:
    stream = ssc.queueStream([[1]], default=ctx.parallelize([], 3))
    assert partitions_of_first_batches(ssc, stream, 3) == [ctx.defaultParallelism, 3, 3]


def test_file_stream_batch_without_new_files_has_no_partitions(ssc: StreamingContext, tmp_path: Any) -> None:
    directory = tmp_path / "incoming"
    directory.mkdir()
    (directory / "empty.txt").write_text("")               # an empty file adds no partition
    os.utime(directory / "empty.txt", (2.0, 2.0))
    assert partitions_of_first_batches(ssc, ssc.textFileStream(os.fspath(directory)), 2) == [0, 0]


def test_receiver_batches_without_blocks_have_no_partitions(ssc: StreamingContext) -> None:
    server = LineServer()
    try:
        lines = ssc.socketTextStream("127.0.0.1", server.port)
        custom = ssc.receiverStream(Silent())
        counted = collect_batches(lines.union(custom).count())
        sizes = collect_batches(num_partitions(lines.union(custom)))
        ssc.start()
        server.connection(1)                                # connected, and nothing sent
        advance_batch(ssc)
        advance_batch(ssc)
        ssc.stop(stopSparkContext=False)
    finally:
        server.close()
    assert sizes == [[0], [0]]
    assert counted == [[], []]
