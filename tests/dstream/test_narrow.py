"""Narrow transformations, each checked against the same computation in plain Python."""

from __future__ import annotations

import itertools

import pytest

from dstream import Context, TaskContext

DATA = list(range(-7, 23))
WORDS = ["a b", "", "c d e", "a"]


def parts(data: list, n: int) -> list[list]:
    """How ``parallelize(list, n)`` slices ``data`` (for small lists: batches of one)."""
    from dstream.context import _slice_list
    return _slice_list(list(data), n)


@pytest.mark.parametrize("n", [1, 3])
def test_map(ctx: Context, n: int) -> None:
    rdd = ctx.parallelize(DATA, n).map(lambda x: x * 3 + 1)
    assert rdd.collect() == [x * 3 + 1 for x in DATA]
    assert rdd.getNumPartitions() == n


def test_flat_map(ctx: Context) -> None:
    assert ctx.parallelize(WORDS, 3).flatMap(str.split).collect() == [w for s in WORDS for w in s.split()]
    assert ctx.parallelize([1, 2, 3], 2).flatMap(lambda x: range(x)).collect() == [0, 0, 1, 0, 1, 2]


def test_filter(ctx: Context) -> None:
    assert ctx.parallelize(DATA, 4).filter(lambda x: x % 3 == 0).collect() == [x for x in DATA if x % 3 == 0]
    assert ctx.parallelize(DATA, 4).filter(lambda x: False).collect() == []


def test_map_partitions(ctx: Context) -> None:
    rdd = ctx.parallelize(DATA, 4).mapPartitions(lambda it: [sum(it)])
    assert rdd.collect() == [sum(p) for p in parts(DATA, 4)]


def test_map_partitions_with_index(ctx: Context) -> None:
    rdd = ctx.parallelize(DATA, 3).mapPartitionsWithIndex(lambda i, it: ((i, x) for x in it))
    expected = [(i, x) for i, p in enumerate(parts(DATA, 3)) for x in p]
    assert rdd.collect() == expected


def test_task_context_inside_a_task(ctx: Context) -> None:
    ids = ctx.parallelize(range(6), 3).map(lambda _: (TaskContext.get().partitionId(),
                                                      TaskContext.get().attemptNumber())).collect()
    assert ids == [(0, 0), (0, 0), (1, 0), (1, 0), (2, 0), (2, 0)]
    assert TaskContext.get() is None


def test_glom(ctx: Context) -> None:
    assert ctx.parallelize(DATA, 4).glom().collect() == parts(DATA, 4)
    assert ctx.parallelize([], 3).glom().collect() == [[], [], []]


def test_a_function_folded_after_glom_gets_an_iterator(ctx: Context) -> None:
    # glom's function returns a list; the next function of the same stage still gets an
    # iterator for its partition, as in PySpark
    firsts = ctx.parallelize([1, 2, 3, 4], 2).glom().mapPartitions(lambda it: [next(it)])
    assert firsts.collect() == [[1, 2], [3, 4]]


def test_chained_narrow_operators_fuse_into_one_stage(ctx: Context) -> None:
    rdd = (ctx.parallelize(DATA, 3).map(lambda x: x + 1).filter(lambda x: x % 2 == 0)
           .flatMap(lambda x: [x, -x]).mapPartitions(lambda it: (x * 10 for x in it)))
    expected = [y * 10 for x in DATA if (x + 1) % 2 == 0 for y in (x + 1, -(x + 1))]
    assert rdd.collect() == expected
    assert [type(d.rdd).__name__ for d in rdd.deps] == ["ParallelCollectionRDD"]


def test_key_by_and_pair_projections(ctx: Context) -> None:
    rdd = ctx.parallelize(DATA, 2).keyBy(lambda x: x % 4)
    assert rdd.collect() == [(x % 4, x) for x in DATA]
    assert rdd.keys().collect() == [x % 4 for x in DATA]
    assert rdd.values().collect() == DATA


def test_map_values_and_flat_map_values_keep_the_partitioner(ctx: Context) -> None:
    pairs = ctx.parallelize([(x % 3, x) for x in DATA], 2).partitionBy(3)
    mapped = pairs.mapValues(lambda v: v * v)
    flat = pairs.flatMapValues(lambda v: range(v % 3))
    assert sorted(mapped.collect()) == sorted((x % 3, x * x) for x in DATA)
    assert sorted(flat.collect()) == sorted((x % 3, i) for x in DATA for i in range(x % 3))
    assert mapped.partitioner == pairs.partitioner and flat.partitioner == pairs.partitioner
    assert pairs.map(lambda kv: kv).partitioner is None
    assert pairs.map(lambda kv: kv, preservesPartitioning=True).partitioner == pairs.partitioner
    assert pairs.filter(lambda kv: True).partitioner == pairs.partitioner


def test_union(ctx: Context) -> None:
    a, b = ctx.parallelize([1, 2, 3], 2), ctx.parallelize(["x", "y"], 3)
    assert a.union(b).collect() == [1, 2, 3, "x", "y"]
    assert a.union(b).getNumPartitions() == 5
    assert (a + a).collect() == [1, 2, 3, 1, 2, 3]
    with pytest.raises(TypeError):
        a + [4]  # type: ignore[operator]


def test_cartesian(ctx: Context) -> None:
    a, b = ctx.parallelize([1, 2, 3], 2), ctx.parallelize("xy", 2)
    product = a.cartesian(b)
    assert product.getNumPartitions() == 4
    assert sorted(product.collect()) == sorted(itertools.product([1, 2, 3], "xy"))
    assert sorted(a.cartesian(a).collect()) == sorted(itertools.product([1, 2, 3], repeat=2))
    assert a.cartesian(ctx.emptyRDD()).collect() == []


def test_zip(ctx: Context) -> None:
    a = ctx.parallelize(range(6), 3)
    b = a.map(lambda x: chr(ord("a") + x))
    assert a.zip(b).collect() == list(zip(range(6), "abcdef"))
    with pytest.raises(ValueError, match="same number of partitions"):
        a.zip(ctx.parallelize(range(6), 2))
    with pytest.raises(ValueError, match="same number of elements"):
        a.zip(a.filter(lambda x: x != 3)).collect()


@pytest.mark.parametrize("n", [1, 2, 5])
def test_zip_with_index(ctx: Context, n: int) -> None:
    data = [f"v{i}" for i in range(13)]
    assert ctx.parallelize(data, n).zipWithIndex().collect() == [(v, i) for i, v in enumerate(data)]
    assert ctx.parallelize([], n).zipWithIndex().collect() == []


def test_zip_with_unique_id(ctx: Context) -> None:
    ids = [i for _, i in ctx.parallelize(range(20), 3).zipWithUniqueId().collect()]
    assert len(set(ids)) == 20


def test_sample_without_replacement(ctx: Context) -> None:
    rdd = ctx.parallelize(range(1000), 4)
    sample = rdd.sample(False, 0.3, seed=11).collect()
    assert sample == rdd.sample(False, 0.3, seed=11).collect()       # the seed fixes it
    assert len(set(sample)) == len(sample) and set(sample) <= set(range(1000))
    assert sample == sorted(sample)                                 # order kept
    assert 200 < len(sample) < 400
    assert rdd.sample(False, 0.0, seed=1).collect() == []
    assert rdd.sample(False, 1.0, seed=1).collect() == list(range(1000))


def test_sample_with_replacement(ctx: Context) -> None:
    rdd = ctx.parallelize(range(500), 2)
    sample = rdd.sample(True, 2.0, seed=3).collect()
    assert sample == rdd.sample(True, 2.0, seed=3).collect()
    assert set(sample) <= set(range(500))
    assert 800 < len(sample) < 1200
    assert len(set(sample)) < len(sample)
    with pytest.raises(ValueError, match="nonnegative"):
        rdd.sample(False, -0.1)


def test_coalesce_merges_neighbouring_partitions(ctx: Context) -> None:
    rdd = ctx.parallelize(DATA, 6)
    coalesced = rdd.coalesce(4)
    assert coalesced.getNumPartitions() == 4
    assert coalesced.collect() == DATA
    assert [x for p in coalesced.glom().collect() for x in p] == DATA
    assert rdd.coalesce(10).getNumPartitions() == 6     # no shuffle: cannot grow
    assert rdd.coalesce(10, shuffle=True).getNumPartitions() == 10
    assert sorted(rdd.coalesce(10, shuffle=True).collect()) == sorted(DATA)
    assert ctx.emptyRDD().coalesce(3).collect() == []
    with pytest.raises(ValueError):
        rdd.coalesce(0)


@pytest.mark.parametrize("n", [1, 2, 7])
def test_repartition_balances(ctx: Context, n: int) -> None:
    rdd = ctx.parallelize(range(100), 3).repartition(n)
    assert rdd.getNumPartitions() == n
    assert sorted(rdd.collect()) == list(range(100))
    lengths = rdd.glom().map(len).collect()
    assert max(lengths) - min(lengths) <= 3
    with pytest.raises(ValueError):
        rdd.repartition(0)


def test_narrow_operations_on_empty_partitions(ctx: Context) -> None:
    rdd = ctx.parallelize([], 3)
    assert rdd.map(lambda x: x).flatMap(lambda x: [x]).filter(bool).collect() == []
    assert rdd.mapPartitions(lambda it: [len(list(it))]).collect() == [0, 0, 0]


def test_set_name_and_repr(ctx: Context) -> None:
    rdd = ctx.parallelize([1]).setName("numbers")
    assert rdd.name() == "numbers"
    assert repr(rdd).startswith("numbers ParallelCollectionRDD[")
    assert "test_narrow.py:" in repr(rdd)
