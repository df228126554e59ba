"""Joins, cogroup and the set operations built on them, against nested loops in Python."""

from __future__ import annotations

import pytest

from dstream import Context

LEFT = [("a", 1), ("b", 2), ("a", 3), ("d", 4), (None, 5)]
RIGHT = [("a", "x"), ("c", "y"), ("a", "z"), (None, "n"), ("b", "w")]


def inner(left, right):
    return [(k, (v, w)) for k, v in left for k2, w in right if k == k2]


def left_outer(left, right):
    right_keys = {k for k, _ in right}
    return inner(left, right) + [(k, (v, None)) for k, v in left if k not in right_keys]


def right_outer(left, right):
    left_keys = {k for k, _ in left}
    return inner(left, right) + [(k, (None, w)) for k, w in right if k not in left_keys]


def full_outer(left, right):
    left_keys = {k for k, _ in left}
    return left_outer(left, right) + [(k, (None, w)) for k, w in right if k not in left_keys]


def canon(rows) -> list:
    return sorted(rows, key=repr)


@pytest.fixture
def sides(ctx: Context):
    return ctx.parallelize(LEFT, 2), ctx.parallelize(RIGHT, 3)


def test_join(sides) -> None:
    a, b = sides
    assert canon(a.join(b).collect()) == canon(inner(LEFT, RIGHT))
    assert a.join(b).getNumPartitions() == 5       # 2 + 3, as PySpark
    assert a.join(b, 4).getNumPartitions() == 4


def test_left_outer_join(sides) -> None:
    a, b = sides
    assert canon(a.leftOuterJoin(b).collect()) == canon(left_outer(LEFT, RIGHT))
    assert a.leftOuterJoin(b).getNumPartitions() == 5


def test_right_outer_join(sides) -> None:
    a, b = sides
    assert canon(a.rightOuterJoin(b).collect()) == canon(right_outer(LEFT, RIGHT))


def test_full_outer_join(sides) -> None:
    a, b = sides
    assert canon(a.fullOuterJoin(b).collect()) == canon(full_outer(LEFT, RIGHT))
    assert a.fullOuterJoin(b, 1).getNumPartitions() == 1


def test_join_with_an_empty_side(ctx: Context, sides) -> None:
    a, _ = sides
    empty = ctx.emptyRDD()
    assert a.join(empty).collect() == []
    assert canon(a.leftOuterJoin(empty).collect()) == canon((k, (v, None)) for k, v in LEFT)
    assert canon(empty.rightOuterJoin(a).collect()) == canon((k, (None, v)) for k, v in LEFT)
    assert a.join(empty).getNumPartitions() == 2


def test_cogroup(sides) -> None:
    a, b = sides
    result = a.cogroup(b)
    assert result.getNumPartitions() == 5
    got = {k: (sorted(vs), sorted(ws)) for k, (vs, ws) in result.collect()}
    keys = {k for k, _ in LEFT} | {k for k, _ in RIGHT}
    assert got == {k: (sorted(v for k2, v in LEFT if k2 == k), sorted(w for k2, w in RIGHT if k2 == k))
                   for k in keys}
    assert len(result.collect()) == len(keys)


def test_group_with_three(ctx: Context, sides) -> None:
    a, b = sides
    c = ctx.parallelize([("a", True), ("e", False)], 1)
    got = {k: tuple(sorted(map(repr, g)) for g in groups) for k, groups in a.groupWith(b, c).collect()}
    assert got["a"] == (["1", "3"], ["'x'", "'z'"], ["True"])
    assert got["e"] == ([], [], ["False"])
    assert set(got) == {"a", "b", "c", "d", "e", None}


def test_join_partition_counts_two_plus_three(ctx: Context) -> None:
    a = ctx.parallelize([(1, 2)], 2)
    b = ctx.parallelize([(1, 3)], 3)
    assert a.join(b).getNumPartitions() == 5
    assert a.cogroup(b).getNumPartitions() == 5
    assert a.join(b).collect() == [(1, (2, 3))]


def test_join_of_copartitioned_rdds_needs_no_new_shuffle(ctx: Context) -> None:
    a = ctx.parallelize(LEFT, 2).partitionBy(3)
    b = ctx.parallelize(RIGHT, 2).partitionBy(3)
    joined = a.join(b)
    assert joined.getNumPartitions() == 3
    assert joined.toDebugString().decode().count("+-") == 2      # the two partitionBy shuffles only
    assert canon(joined.collect()) == canon(inner(LEFT, RIGHT))


def test_join_twice_gives_the_same_rows(sides) -> None:
    a, b = sides
    joined = a.fullOuterJoin(b)
    first = canon(joined.collect())
    assert canon(joined.collect()) == first
    assert joined.count() == len(first)


def test_subtract_by_key(ctx: Context, sides) -> None:
    a, b = sides
    right_keys = {k for k, _ in RIGHT}
    assert canon(a.subtractByKey(b).collect()) == canon((k, v) for k, v in LEFT if k not in right_keys)
    assert canon(a.subtractByKey(ctx.emptyRDD()).collect()) == canon(LEFT)
    assert a.subtractByKey(b, 2).getNumPartitions() == 2


def test_subtract_keeps_duplicates(ctx: Context) -> None:
    a = ctx.parallelize([1, 1, 2, 3, 3, 4, "x"], 3)
    b = ctx.parallelize([3, 5, "x"], 2)
    assert sorted(a.subtract(b).collect(), key=repr) == [1, 1, 2, 4]
    assert a.subtract(b, 4).getNumPartitions() == 4


def test_intersection_is_distinct(ctx: Context) -> None:
    a = ctx.parallelize([1, 1, 2, 3, 3, 4, None], 3)
    b = ctx.parallelize([3, 3, 1, 5, None], 2)
    assert sorted(a.intersection(b).collect(), key=repr) == [1, 3, None]
    assert a.intersection(ctx.emptyRDD()).collect() == []
    assert a.intersection(b).getNumPartitions() == 5


def test_join_many_to_many(ctx: Context) -> None:
    left = [(k % 3, k) for k in range(12)]
    right = [(k % 4, -k) for k in range(10)]
    assert canon(ctx.parallelize(left, 3).join(ctx.parallelize(right, 2)).collect()) == \
        canon(inner(left, right))


def test_grouped_values_are_result_iterables(sides) -> None:
    from dstream.aggregation import ResultIterable

    a, b = sides
    rows = dict(a.groupByKey().collect())
    assert isinstance(rows["a"], ResultIterable)
    assert len(rows["a"]) == 2 and sorted(rows["a"]) == [1, 3]
    vs, ws = dict(a.cogroup(b).collect())["a"]
    assert isinstance(vs, ResultIterable) and isinstance(ws, ResultIterable)
    assert (sorted(vs), sorted(ws)) == ([1, 3], ["x", "z"])
