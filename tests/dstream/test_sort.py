"""sortBy and sortByKey: a total order across range partitions."""

from __future__ import annotations

import random

import pytest

from dstream import Context

RNG = random.Random(5)
KEYS = [RNG.randint(-50, 50) for _ in range(200)]
PAIRS = [(k, i) for i, k in enumerate(KEYS)]


def assert_range_partitioned(parts: list[list], key, ascending: bool = True) -> None:
    """Every key of partition i sorts before (or with) every key of partition i + 1."""
    nonempty = [[key(x) for x in p] for p in parts if p]
    for left, right in zip(nonempty, nonempty[1:]):
        if ascending:
            assert max(left) <= min(right)
        else:
            assert min(left) >= max(right)


@pytest.mark.parametrize("n", [1, 2, 4, 7])
@pytest.mark.parametrize("ascending", [True, False])
def test_sort_by_key(ctx: Context, n: int, ascending: bool) -> None:
    rdd = ctx.parallelize(PAIRS, 3).sortByKey(ascending, n)
    result = rdd.collect()
    assert [k for k, _ in result] == sorted(KEYS, reverse=not ascending)
    assert sorted(result) == sorted(PAIRS)
    assert rdd.getNumPartitions() == n
    assert_range_partitioned(rdd.glom().collect(), lambda kv: kv[0], ascending)


def test_sort_by_key_keeps_the_parents_partition_count(ctx: Context) -> None:
    assert ctx.parallelize(PAIRS, 5).sortByKey().getNumPartitions() == 5


def test_sort_by_key_with_keyfunc(ctx: Context) -> None:
    words = [(w, len(w)) for w in "The quick Brown fox Jumps over the lazy dog".split()]
    result = ctx.parallelize(words, 3).sortByKey(keyfunc=str.lower).collect()
    assert [w for w, _ in result] == sorted((w for w, _ in words), key=str.lower)
    result = ctx.parallelize(words, 3).sortByKey(False, 2, keyfunc=len).collect()
    assert [len(w) for w, _ in result] == sorted((len(w) for w, _ in words), reverse=True)


def test_sort_by(ctx: Context) -> None:
    data = list(range(-20, 20))
    RNG.shuffle(data)
    rdd = ctx.parallelize(data, 4)
    assert rdd.sortBy(lambda x: x * x).map(abs).collect() == sorted(map(abs, data))
    assert rdd.sortBy(lambda x: x, ascending=False).collect() == sorted(data, reverse=True)
    assert rdd.sortBy(lambda x: -x, numPartitions=2).getNumPartitions() == 2
    assert rdd.sortBy(str).collect() == sorted(data, key=str)


def test_sort_strings_and_tuples(ctx: Context) -> None:
    data = [("b", 2), ("a", 9), ("b", 1), ("a", 1), ("c", 0)]
    assert ctx.parallelize([(t, None) for t in data], 2).sortByKey().keys().collect() == sorted(data)


def test_sort_of_empty_rdds(ctx: Context) -> None:
    assert ctx.parallelize([], 3).sortByKey().collect() == []
    assert ctx.parallelize([(1, 1)], 3).filter(lambda kv: False).sortByKey(numPartitions=2).collect() == []
    assert ctx.emptyRDD().sortByKey().collect() == []
    assert ctx.parallelize([], 2).sortBy(lambda x: x).collect() == []


def test_sort_of_a_single_key(ctx: Context) -> None:
    rdd = ctx.parallelize([(7, i) for i in range(50)], 4).sortByKey(numPartitions=3)
    assert sorted(rdd.collect()) == [(7, i) for i in range(50)]
    assert rdd.getNumPartitions() == 3


def test_sort_is_stable_to_repeat(ctx: Context) -> None:
    rdd = ctx.parallelize(PAIRS, 3).sortByKey(numPartitions=4)
    assert rdd.collect() == rdd.collect()
