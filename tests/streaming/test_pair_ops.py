"""Operators on (key, value) streams: exact per-batch outputs and partition counts."""

from __future__ import annotations

import operator
from typing import Any

import pytest

from dstream.hashing import portable_hash

PAIRS = [[("a", 1), ("b", 2), ("a", 3)], [("b", 4)], [], [("c", 5), ("c", 6)]]

SINGLE = [
    ("mapValues", lambda s: s.mapValues(lambda v: v * 10),
     [[("a", 10), ("a", 30), ("b", 20)], [("b", 40)], [], [("c", 50), ("c", 60)]]),
    ("flatMapValues", lambda s: s.flatMapValues(lambda v: range(v % 3)),
     [[("a", 0), ("b", 0), ("b", 1)], [("b", 0)], [], [("c", 0), ("c", 1)]]),
    ("reduceByKey", lambda s: s.reduceByKey(operator.add),
     [[("a", 4), ("b", 2)], [("b", 4)], [], [("c", 11)]]),
    ("reduceByKey numPartitions", lambda s: s.reduceByKey(operator.add, 3),
     [[("a", 4), ("b", 2)], [("b", 4)], [], [("c", 11)]]),
    ("groupByKey", lambda s: s.groupByKey().mapValues(sorted),
     [[("a", [1, 3]), ("b", [2])], [("b", [4])], [], [("c", [5, 6])]]),
    ("groupByKey values", lambda s: s.groupByKey(),
     [[("a", [1, 3]), ("b", [2])], [("b", [4])], [], [("c", [5, 6])]]),
    ("combineByKey", lambda s: s.combineByKey(lambda v: (v, 1), lambda c, v: (c[0] + v, c[1] + 1),
                                              lambda x, y: (x[0] + y[0], x[1] + y[1])),
     [[("a", (4, 2)), ("b", (2, 1))], [("b", (4, 1))], [], [("c", (11, 2))]]),
    ("partitionBy", lambda s: s.partitionBy(2),
     [[("a", 1), ("a", 3), ("b", 2)], [("b", 4)], [], [("c", 5), ("c", 6)]]),
    ("countByValue of pairs", lambda s: s.countByValue(),
     [[(("a", 1), 1), (("a", 3), 1), (("b", 2), 1)], [(("b", 4), 1)], [], [(("c", 5), 1), (("c", 6), 1)]]),
]


@pytest.mark.parametrize("name, func, expected", SINGLE, ids=[c[0] for c in SINGLE])
def test_pair_operators(run: Any, name: str, func: Any, expected: list) -> None:
    assert run(PAIRS, func) == expected


LEFT = [[("a", 1), ("b", 2)], [("a", 3)], [], [("k", 0)]]
RIGHT = [[("a", "x"), ("a", "y"), ("c", "z")], [], [("q", 9)], [("k", None)]]

TWO = [
    ("join", lambda a, b: a.join(b),
     [[("a", (1, "x")), ("a", (1, "y"))], [], [], [("k", (0, None))]]),
    ("leftOuterJoin", lambda a, b: a.leftOuterJoin(b),
     [[("a", (1, "x")), ("a", (1, "y")), ("b", (2, None))], [("a", (3, None))], [], [("k", (0, None))]]),
    ("rightOuterJoin", lambda a, b: a.rightOuterJoin(b),
     [[("a", (1, "x")), ("a", (1, "y")), ("c", (None, "z"))], [], [("q", (None, 9))], [("k", (0, None))]]),
    ("fullOuterJoin", lambda a, b: a.fullOuterJoin(b),
     [[("a", (1, "x")), ("a", (1, "y")), ("b", (2, None)), ("c", (None, "z"))], [("a", (3, None))],
      [("q", (None, 9))], [("k", (0, None))]]),
    ("cogroup", lambda a, b: a.cogroup(b).mapValues(lambda vs: (sorted(vs[0]), sorted(vs[1]))),
     [[("a", ([1], ["x", "y"])), ("b", ([2], [])), ("c", ([], ["z"]))], [("a", ([3], []))],
      [("q", ([], [9]))], [("k", ([0], [None]))]]),
    ("union", lambda a, b: a.union(b),
     [[("a", "x"), ("a", "y"), ("a", 1), ("b", 2), ("c", "z")], [("a", 3)], [("q", 9)],
      [("k", 0), ("k", None)]]),
]


@pytest.mark.parametrize("name, func, expected", TWO, ids=[c[0] for c in TWO])
def test_two_stream_operators(run: Any, name: str, func: Any, expected: list) -> None:
    assert run(LEFT, func, inputs2=RIGHT) == expected


PARTITIONS = [
    ("reduceByKey", lambda a, b: a.reduceByKey(operator.add), None),
    ("reduceByKey numPartitions", lambda a, b: a.reduceByKey(operator.add, 5), 5),
    ("groupByKey", lambda a, b: a.groupByKey(), None),
    ("combineByKey", lambda a, b: a.combineByKey(lambda v: v, operator.add, operator.add), None),
    ("countByValue", lambda a, b: a.countByValue(), None),
    ("partitionBy", lambda a, b: a.partitionBy(3), 3),
    ("join", lambda a, b: a.join(b), None),
    ("join numPartitions", lambda a, b: a.join(b, 4), 4),
    ("leftOuterJoin", lambda a, b: a.leftOuterJoin(b), None),
    ("rightOuterJoin", lambda a, b: a.rightOuterJoin(b), None),
    ("fullOuterJoin", lambda a, b: a.fullOuterJoin(b), None),
    ("cogroup", lambda a, b: a.cogroup(b), None),
    ("reduce", lambda a, b: a.reduce(lambda x, y: x), 1),
    ("union", lambda a, b: a.union(b), "sum"),
]


@pytest.mark.parametrize("ctx", ["local", "local[2]", "dask-local[2]"], indirect=True)
@pytest.mark.parametrize("name, func, expected", PARTITIONS, ids=[c[0] for c in PARTITIONS])
def test_partition_counts(ctx: Any, run: Any, name: str, func: Any, expected: Any) -> None:
    """DStream pair operations default to defaultParallelism partitions (RDD joins would
    use the sum of both sides); a union keeps every input partition."""
    n = ctx.defaultParallelism
    want = {None: n, "sum": 2 * n}.get(expected, expected)
    counts = run(LEFT[:2], lambda a, b: func(a, b).transform(
        lambda rdd: rdd.ctx.parallelize([rdd.getNumPartitions()], 1)), inputs2=RIGHT[:2])
    assert counts == [[want], [want]]


def test_partition_by_places_keys_by_portable_hash(ctx: Any, run: Any) -> None:
    keys = ["a", "b", "c", None, -1, -2, (1, "x")]
    glommed = run([[(k, 0) for k in keys]], lambda s: s.partitionBy(3).glom(), sort=False)
    assert glommed == [[[(k, 0) for k in keys if portable_hash(k) % 3 == i] for i in range(3)]]


def test_partition_by_with_a_partition_function(run: Any) -> None:
    glommed = run([[(i, i) for i in range(5)]], lambda s: s.partitionBy(2, lambda k: k // 3).glom(),
                  sort=False)
    assert glommed == [[[(0, 0), (1, 1), (2, 2)], [(3, 3), (4, 4)]]]


def test_join_on_a_key_that_appears_later(run: Any) -> None:
    left = [[("a", 1)], [], [("a", 2)]]
    right = [[], [("a", "x")], [("a", "y")]]
    assert run(left, lambda a, b: a.join(b), inputs2=right) == [[], [], [("a", (2, "y"))]]


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_num_partitions_must_be_a_positive_int(ssc: Any, bad: Any) -> None:
    stream = ssc.queueStream([[("a", 1)]])
    with pytest.raises(ValueError, match=rf"queueStream-0: numPartitions must be an int >= 1, got {bad}"):
        stream.reduceByKey(operator.add, bad)


def test_two_stream_operators_need_the_same_slide(ssc: Any) -> None:
    a = ssc.queueStream([[("a", 1)]])
    b = ssc.queueStream([[("a", 2)]]).window(2, 2)
    with pytest.raises(ValueError, match="queueStream-0 slides every 1 s but queueStream-1.window every 2 s"):
        a.join(b)
