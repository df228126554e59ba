"""Empty data through every RDD operator, with PySpark's values, partition counts and errors.

Two kinds of empty RDD behave differently in PySpark, and both reach the operators (empty batches
and empty windows are one or the other): ``emptyRDD()`` has no partitions, ``parallelize([], 3)``
has three empty ones. A shuffle keeps the parent's count by default (0 stays 0), a join or
cogroup adds both sides' counts; actions that PySpark builds on ``reduce`` over per-partition
results (``top``, ``countByValue``, ``stats``, ``max`` ...) raise ``ValueError`` on an RDD
without partitions, while ``fold``, ``aggregate`` and ``sum`` give their zero.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable

import pytest

from dstream import Context, Partitioner
from dstream.rdd import RDD

EMPTY_SOURCES = {
    "emptyRDD": lambda ctx: ctx.emptyRDD(),
    "parallelize([], 3)": lambda ctx: ctx.parallelize([], 3),
}

# (name, transformation of an empty RDD ``e`` given a second empty RDD ``f`` with 2 partitions,
#  partitions of the result for e = emptyRDD (0) and for e = parallelize([], 3))
TRANSFORMATIONS: list[tuple[str, Callable[[RDD, RDD], RDD], int, int]] = [
    ("map", lambda e, f: e.map(str), 0, 3),
    ("filter", lambda e, f: e.filter(bool), 0, 3),
    ("flatMap", lambda e, f: e.flatMap(lambda x: [x, x]), 0, 3),
    ("mapPartitions", lambda e, f: e.mapPartitions(lambda it: it), 0, 3),
    ("mapValues", lambda e, f: e.mapValues(str), 0, 3),
    ("keyBy", lambda e, f: e.keyBy(str), 0, 3),
    ("zipWithIndex", lambda e, f: e.zipWithIndex(), 0, 3),
    ("zipWithUniqueId", lambda e, f: e.zipWithUniqueId(), 0, 3),
    ("sample", lambda e, f: e.sample(False, 0.5, 1), 0, 3),
    ("distinct", lambda e, f: e.distinct(), 0, 3),
    ("distinct(2)", lambda e, f: e.distinct(2), 2, 2),
    ("reduceByKey", lambda e, f: e.reduceByKey(operator.add), 0, 3),
    ("reduceByKey(numPartitions=0)", lambda e, f: e.filter(bool).reduceByKey(operator.add, 0), 0, None),
    ("groupByKey", lambda e, f: e.groupByKey(), 0, 3),
    ("combineByKey", lambda e, f: e.combineByKey(list, list.__add__, list.__add__), 0, 3),
    ("aggregateByKey", lambda e, f: e.aggregateByKey(0, operator.add, operator.add), 0, 3),
    ("foldByKey", lambda e, f: e.foldByKey(0, operator.add), 0, 3),
    ("groupBy", lambda e, f: e.groupBy(str), 0, 3),
    ("partitionBy(None)", lambda e, f: e.partitionBy(None), 0, 3),
    ("partitionBy(4)", lambda e, f: e.partitionBy(4), 4, 4),
    ("sortByKey", lambda e, f: e.sortByKey(), 0, 3),
    ("sortByKey(False, 1)", lambda e, f: e.sortByKey(False, 1), 0, 1),
    ("sortByKey(numPartitions=4)", lambda e, f: e.sortByKey(True, 4), 0, 3),
    ("sortBy", lambda e, f: e.sortBy(str), 0, 3),
    ("repartition(3)", lambda e, f: e.repartition(3), 3, 3),
    ("coalesce(2)", lambda e, f: e.coalesce(2), 0, 2),
    ("coalesce(2, shuffle=True)", lambda e, f: e.coalesce(2, shuffle=True), 2, 2),
    ("union", lambda e, f: e.union(f), 2, 5),
    ("cartesian", lambda e, f: e.cartesian(f), 0, 6),
    ("join", lambda e, f: e.join(f), 2, 5),
    ("leftOuterJoin", lambda e, f: e.leftOuterJoin(f), 2, 5),
    ("rightOuterJoin", lambda e, f: e.rightOuterJoin(f), 2, 5),
    ("fullOuterJoin", lambda e, f: e.fullOuterJoin(f), 2, 5),
    ("join with itself", lambda e, f: e.join(e), 0, 6),
    ("cogroup", lambda e, f: e.cogroup(f), 2, 5),
    ("groupWith", lambda e, f: e.groupWith(f, e), 2, 8),
    ("subtractByKey", lambda e, f: e.subtractByKey(f), 2, 5),
    ("subtract", lambda e, f: e.subtract(f), 2, 5),
    ("intersection", lambda e, f: e.intersection(f), 2, 5),
    # co-partitioned sides: the join keeps their partitioner (and count), no new shuffle
    ("reduceByKey then join", lambda e, f: e.reduceByKey(operator.add).join(e.groupByKey()), 0, 3),
    ("distinct of a distinct", lambda e, f: e.distinct().distinct(), 0, 3),
]


@pytest.mark.parametrize("source", EMPTY_SOURCES)
@pytest.mark.parametrize("name, transform, parts_empty, parts_three", TRANSFORMATIONS,
                         ids=[row[0] for row in TRANSFORMATIONS])
def test_transformation_of_empty_rdd(ctx: Context, source: str, name: str,
                                     transform: Callable[[RDD, RDD], RDD], parts_empty: int,
                                     parts_three: int | None) -> None:
    empty = EMPTY_SOURCES[source](ctx)
    if parts_three is None and source != "emptyRDD":
        with pytest.raises(ValueError, match=r"numPartitions=0 would drop its records: pass numPartitions >= 1"):
            transform(empty, ctx.parallelize([], 2))
        return
    rdd = transform(empty, ctx.parallelize([], 2))
    assert rdd.collect() == []
    assert rdd.count() == 0
    assert rdd.getNumPartitions() == (parts_empty if source == "emptyRDD" else parts_three)


class Raises:
    """An expected ``ValueError`` with PySpark's exact message."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"Raises({self.message!r})"


EMPTY_REDUCE = Raises("Can not reduce() empty RDD")

# (name, action, value for emptyRDD, value for parallelize([], 3)); a value that is ``Raises``
# is PySpark's ValueError and message.
ACTIONS: list[tuple[str, Callable[[RDD], Any], Any, Any]] = [
    ("collect", lambda e: e.collect(), [], []),
    ("count", lambda e: e.count(), 0, 0),
    ("take(3)", lambda e: e.take(3), [], []),
    ("take(0)", lambda e: e.take(0), [], []),
    ("first", lambda e: e.first(), Raises("RDD is empty"), Raises("RDD is empty")),
    ("isEmpty", lambda e: e.isEmpty(), True, True),
    ("top(2)", lambda e: e.top(2), EMPTY_REDUCE, []),
    ("top(0)", lambda e: e.top(0), EMPTY_REDUCE, []),
    ("takeOrdered(2)", lambda e: e.takeOrdered(2), [], []),
    ("takeOrdered(2, key)", lambda e: e.takeOrdered(2, key=operator.neg), [], []),
    ("takeOrdered(-1)", lambda e: e.takeOrdered(-1), Raises("top N cannot be negative."),
     Raises("top N cannot be negative.")),
    ("reduce", lambda e: e.reduce(operator.add), EMPTY_REDUCE, EMPTY_REDUCE),
    ("treeReduce", lambda e: e.treeReduce(operator.add), Raises("Cannot reduce empty RDD."),
     Raises("Cannot reduce empty RDD.")),
    ("fold", lambda e: e.fold(10, operator.add), 10, 40),
    ("aggregate", lambda e: e.aggregate(10, operator.add, operator.add), 10, 40),
    ("treeAggregate", lambda e: e.treeAggregate(10, operator.add, operator.add), 10, 30),
    ("sum", lambda e: e.sum(), 0, 0),
    ("max", lambda e: e.max(), EMPTY_REDUCE, EMPTY_REDUCE),
    ("min", lambda e: e.min(key=abs), EMPTY_REDUCE, EMPTY_REDUCE),
    ("stats().count()", lambda e: e.stats().count(), EMPTY_REDUCE, 0),
    ("mean", lambda e: e.mean(), EMPTY_REDUCE, 0.0),
    ("variance", lambda e: e.variance(), EMPTY_REDUCE, math.nan),
    ("sampleStdev", lambda e: e.sampleStdev(), EMPTY_REDUCE, math.nan),
    ("countByValue", lambda e: dict(e.countByValue()), EMPTY_REDUCE, {}),
    ("countByKey", lambda e: dict(e.countByKey()), EMPTY_REDUCE, {}),
    ("reduceByKeyLocally", lambda e: e.reduceByKeyLocally(operator.add), EMPTY_REDUCE, {}),
    ("collectAsMap", lambda e: e.collectAsMap(), {}, {}),
    ("lookup", lambda e: e.lookup("k"), [], []),
    ("lookup on a partitioned RDD", lambda e: e.reduceByKey(operator.add).lookup("k"), [], []),
    ("foreach", lambda e: e.foreach(print), None, None),
    ("foreachPartition", lambda e: e.foreachPartition(list), None, None),
    ("glom", lambda e: e.glom().collect(), [], [[], [], []]),
    ("getNumPartitions", lambda e: e.getNumPartitions(), 0, 3),
    ("runJob", lambda e: e.context.runJob(e, lambda it: [sum(1 for _ in it)]), [], [0, 0, 0]),
]


def _same(got: Any, expected: Any) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(got, float) and math.isnan(got)
    return type(got) is type(expected) and got == expected


@pytest.mark.parametrize("source", EMPTY_SOURCES)
@pytest.mark.parametrize("name, action, on_empty, on_three", ACTIONS, ids=[row[0] for row in ACTIONS])
def test_action_on_empty_rdd(ctx: Context, source: str, name: str, action: Callable[[RDD], Any],
                             on_empty: Any, on_three: Any) -> None:
    expected = on_empty if source == "emptyRDD" else on_three
    rdd = EMPTY_SOURCES[source](ctx)
    if isinstance(expected, Raises):
        with pytest.raises(ValueError) as raised:
            action(rdd)
        assert type(raised.value) is ValueError and str(raised.value) == expected.message
    else:
        got = action(rdd)
        assert _same(got, expected), f"{name} gave {got!r}, PySpark gives {expected!r}"


def test_shuffle_of_records_into_zero_partitions_is_refused_when_defined(ctx: Context) -> None:
    """Spark runs no map task for a shuffle without reduce partitions, so the records would
    vanish silently; here the shuffle is refused, with the fix, before anything runs."""
    with pytest.raises(ValueError, match=r"\(2 partitions\) into numPartitions=0 would drop its records"):
        ctx.parallelize([("a", 1)], 2).reduceByKey(operator.add, 0)
    with pytest.raises(ValueError, match=r"numPartitions=0 would drop its records"):
        ctx.parallelize([(1, "a")], 2).sortByKey(True, 0)


def test_partitioner_of_zero_partitions_places_no_key() -> None:
    assert Partitioner(0).numPartitions == 0
    with pytest.raises(ValueError, match=r"Partitioner\(0\) has no partition for key 'k': .* numPartitions >= 1"):
        Partitioner(0)("k")
    with pytest.raises(ValueError, match=r"numPartitions must be an int >= 0 .*got -1"):
        Partitioner(-1)


def test_negative_top_is_empty_as_in_pyspark(ctx: Context) -> None:
    assert ctx.parallelize([3, 1, 2], 2).top(-1) == []


def test_tree_operators_check_depth(ctx: Context) -> None:
    rdd = ctx.parallelize([1, 2, 3], 2)
    with pytest.raises(ValueError, match=r"^Depth cannot be smaller than 1 but got 0\.$"):
        rdd.treeReduce(operator.add, 0)
    with pytest.raises(ValueError, match=r"^Depth cannot be smaller than 1 but got 0\.$"):
        rdd.treeAggregate(0, operator.add, operator.add, 0)
    assert rdd.treeAggregate(10, operator.add, operator.add) == 26     # zero once per partition only
