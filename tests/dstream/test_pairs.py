"""By-key aggregation and partitioning, against plain-Python grouping."""

from __future__ import annotations

import operator

import pytest

from dstream import Context, portable_hash

from .conftest import grouped, reference_groups

PAIRS = [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5), ("a", 6), (None, 7), ((1, "x"), 8),
         (-1, 9), (-2, 10), (3.5, 11), (True, 12), (2**70, 13), ("", 14)]


@pytest.fixture(params=[1, 3], ids=lambda n: f"{n}parts")
def pairs(ctx: Context, request: pytest.FixtureRequest):
    return ctx.parallelize(PAIRS, request.param)


def reduced(func) -> dict:
    out: dict = {}
    for k, v in PAIRS:
        out[k] = func(out[k], v) if k in out else v
    return out


def assert_hash_placed(rdd) -> None:
    """Every key sits in partition ``portable_hash(key) % n``."""
    n = rdd.getNumPartitions()
    for split, part in enumerate(rdd.glom().collect()):
        for k, _ in part:
            assert portable_hash(k) % n == split, (k, split)


def test_reduce_by_key(pairs) -> None:
    result = pairs.reduceByKey(operator.add)
    assert dict(result.collect()) == reduced(operator.add)
    assert len(result.collect()) == len(reduced(operator.add))
    assert result.getNumPartitions() == pairs.getNumPartitions()
    assert_hash_placed(result)


def test_reduce_by_key_with_partition_count_and_function(pairs) -> None:
    result = pairs.reduceByKey(operator.add, 4, partitionFunc=lambda k: len(str(k)))
    assert result.getNumPartitions() == 4
    assert dict(result.collect()) == reduced(operator.add)
    for split, part in enumerate(result.glom().collect()):
        assert all(len(str(k)) % 4 == split for k, _ in part)


def test_group_by_key(pairs) -> None:
    result = pairs.groupByKey()
    assert grouped(result.collect()) == grouped(reference_groups(PAIRS).items())
    values = dict(result.collect())["a"]
    assert len(values) == 3 and list(values) == [1, 3, 6]
    assert result.getNumPartitions() == pairs.getNumPartitions()
    assert_hash_placed(result)


def test_group_by(ctx: Context) -> None:
    data = list(range(20))
    result = ctx.parallelize(data, 3).groupBy(lambda x: x % 4)
    assert grouped(result.collect()) == [(r, [x for x in data if x % 4 == r]) for r in range(4)]
    assert ctx.parallelize(data, 3).groupBy(lambda x: x % 4, 2).getNumPartitions() == 2


def test_combine_by_key(pairs) -> None:
    result = pairs.combineByKey(lambda v: [v], lambda c, v: c + [v], lambda a, b: a + b)
    assert grouped(result.collect()) == grouped(reference_groups(PAIRS).items())


def test_combine_by_key_with_in_place_combiners_on_repeated_actions(pairs) -> None:
    """PySpark's own docstring combiners (append/extend in place): map outputs are kept
    for later jobs, so merging in place must not change them."""
    def to_list(v):
        return [v]

    def append(c, v):
        c.append(v)
        return c

    def extend(a, b):
        a.extend(b)
        return a

    result = pairs.combineByKey(to_list, append, extend)
    expected = grouped(reference_groups(PAIRS).items())
    assert grouped(result.collect()) == expected
    assert grouped(result.collect()) == expected
    assert result.count() == len(expected)


def test_group_by_key_twice_gives_the_same_groups(pairs) -> None:
    result = pairs.groupByKey()
    first = grouped(result.collect())
    assert grouped(result.collect()) == first
    assert grouped(result.mapValues(list).collect()) == first


def test_aggregate_by_key(pairs) -> None:
    result = pairs.aggregateByKey((0, 0), lambda acc, v: (acc[0] + v, acc[1] + 1),
                                  lambda a, b: (a[0] + b[0], a[1] + b[1]))
    groups = reference_groups(PAIRS)
    assert dict(result.collect()) == {k: (sum(vs), len(vs)) for k, vs in groups.items()}


def test_aggregate_by_key_copies_a_mutable_zero(pairs) -> None:
    zero: list = []
    result = pairs.aggregateByKey(zero, lambda acc, v: acc.append(v) or acc, lambda a, b: a + b)
    assert grouped(result.collect()) == grouped(reference_groups(PAIRS).items())
    assert zero == []


def test_aggregate_by_key_zero_once_per_key_and_partition(ctx: Context) -> None:
    data = [("k", 1), ("k", 2), ("k", 3), ("k", 4)]
    for n, expected in ((1, 110), (2, 210), (4, 410)):
        rdd = ctx.parallelize(data, n)
        assert rdd.aggregateByKey(100, operator.add, operator.add).collect() == [("k", expected)]
        assert rdd.foldByKey(100, operator.add).collect() == [("k", expected)]


def test_fold_by_key(pairs) -> None:
    assert dict(pairs.foldByKey(0, operator.add).collect()) == reduced(operator.add)
    assert dict(pairs.foldByKey(1, operator.mul, 2).collect()) == reduced(operator.mul)


def test_distinct(ctx: Context) -> None:
    data = [3, 1, 3, "x", "x", None, (1, 2), (1, 2), -1, -2]
    for n in (1, 4):
        result = ctx.parallelize(data, n).distinct()
        assert sorted(map(repr, result.collect())) == sorted(map(repr, set(data)))
        assert result.getNumPartitions() == n
    assert ctx.parallelize(data, 4).distinct(2).getNumPartitions() == 2


@pytest.mark.parametrize("n", [1, 2, 5])
def test_partition_by_places_keys_by_portable_hash(pairs, n: int) -> None:
    result = pairs.partitionBy(n)
    assert result.getNumPartitions() == n
    assert result.partitioner.numPartitions == n
    assert sorted(map(repr, result.collect())) == sorted(map(repr, PAIRS))
    assert_hash_placed(result)


def test_partition_by_the_same_partitioner_is_a_no_op(pairs) -> None:
    once = pairs.partitionBy(3)
    assert once.partitionBy(3) is once
    assert once.partitionBy(2) is not once
    again = once.mapValues(str).reduceByKey(operator.add, 3)
    assert again.toDebugString().decode().count("+-") == 1          # no second shuffle
    assert dict(again.collect()) == {k: "".join(map(str, vs)) for k, vs in reference_groups(PAIRS).items()}


def test_partition_by_with_a_partition_function(ctx: Context) -> None:
    rdd = ctx.parallelize([(i, str(i)) for i in range(10)], 3).partitionBy(3, lambda k: k // 4)
    assert rdd.glom().collect() == [[(i, str(i)) for i in range(10) if (i // 4) % 3 == p] for p in range(3)]


def test_minus_one_lands_with_minus_two(ctx: Context) -> None:
    parts = ctx.parallelize([(-1, "a"), (-2, "b"), (0, "c")], 1).partitionBy(5).glom().collect()
    assert parts == [[(0, "c")], [], [], [(-1, "a"), (-2, "b")], []]   # hash(-1) == -2; -2 % 5 == 3


def test_keep_the_parents_partition_count(ctx: Context) -> None:
    rdd = ctx.parallelize([(i % 5, i) for i in range(30)], 3)
    assert rdd.reduceByKey(operator.add).getNumPartitions() == 3
    assert rdd.groupByKey().getNumPartitions() == 3
    assert rdd.sortByKey().getNumPartitions() == 3
    assert rdd.distinct().getNumPartitions() == 3
    assert rdd.combineByKey(str, operator.add, operator.add).getNumPartitions() == 3
    assert rdd.reduceByKey(operator.add, 7).getNumPartitions() == 7


def test_shuffle_needs_pairs(ctx: Context) -> None:
    with pytest.raises(TypeError, match=r"\(key, value\) pairs"):
        ctx.parallelize([1, 2, 3], 2).partitionBy(2).collect()


def test_debug_string_marks_the_stage_boundary(ctx: Context) -> None:
    rdd = ctx.parallelize([("a", 1)], 2).map(lambda kv: kv).reduceByKey(operator.add)
    text = rdd.toDebugString()
    assert isinstance(text, bytes)
    lines = text.decode().splitlines()
    assert lines[0].startswith("(2) ")
    assert any(line.startswith(" +-(2) ") for line in lines)
    assert "ShuffledRDD" in text.decode() and "ParallelCollectionRDD" in text.decode()
    assert "+-" not in ctx.parallelize([1]).map(str).toDebugString().decode()
