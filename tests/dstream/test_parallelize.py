"""``parallelize`` and ``range``: slices cut exactly where PySpark cuts them."""

from __future__ import annotations

import pytest

from dstream import Context


def sizes(rdd) -> list[int]:
    return rdd.glom().map(len).collect()


def test_list_and_range_are_sliced_differently(ctx: Context) -> None:
    assert sizes(ctx.parallelize(list(range(11)), 3)) == [3, 3, 5]
    assert sizes(ctx.parallelize(range(11), 3)) == [3, 4, 4]


def test_fewer_elements_than_slices(ctx: Context) -> None:
    assert ctx.parallelize(["x"], 2).glom().collect() == [[], ["x"]]
    assert ctx.parallelize([0, 1, 2], 5).glom().collect() == [[], [0], [], [1], [2]]
    assert ctx.parallelize(range(3), 5).glom().collect() == [[], [0], [], [1], [2]]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16])
@pytest.mark.parametrize("size", [0, 1, 5, 16, 100])
def test_slices_keep_every_element_in_order(ctx: Context, size: int, n: int) -> None:
    data = [f"e{i}" for i in range(size)]
    parts = ctx.parallelize(data, n).glom().collect()
    assert len(parts) == n
    assert [x for part in parts for x in part] == data
    ranges = ctx.parallelize(range(size), n).glom().collect()
    assert [x for part in ranges for x in part] == list(range(size))
    assert max(map(len, ranges)) - min(map(len, ranges)) <= 1


def test_range_slices_with_a_step(ctx: Context) -> None:
    rdd = ctx.parallelize(range(20, 0, -3), 3)
    assert rdd.collect() == list(range(20, 0, -3))
    assert rdd.getNumPartitions() == 3


def test_default_slices_are_default_parallelism(ctx: Context) -> None:
    expected = 1 if ctx.master == "local" else 2
    assert ctx.defaultParallelism == expected
    assert ctx.parallelize([1, 2, 3]).getNumPartitions() == expected
    assert ctx.defaultMinPartitions == min(expected, 2)


def test_any_iterable_is_accepted(ctx: Context) -> None:
    assert ctx.parallelize((x * x for x in range(5)), 2).collect() == [0, 1, 4, 9, 16]
    assert ctx.parallelize("abc", 2).collect() == ["a", "b", "c"]
    assert sorted(ctx.parallelize({3, 1, 2}).collect()) == [1, 2, 3]


def test_large_lists_are_sliced_in_order(ctx: Context) -> None:
    data = list(range(5000))
    parts = ctx.parallelize(data, 3).glom().map(len).collect()
    assert sum(parts) == 5000
    assert ctx.parallelize(data, 3).collect() == data


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2"])
def test_bad_slice_counts_are_rejected(ctx: Context, bad: object) -> None:
    with pytest.raises(ValueError, match="numSlices"):
        ctx.parallelize([1, 2], bad)  # type: ignore[arg-type]


def test_context_range(ctx: Context) -> None:
    assert ctx.range(5).collect() == [0, 1, 2, 3, 4]
    assert ctx.range(1, 7, 2).collect() == [1, 3, 5]
    assert ctx.range(10, 0, -4).collect() == [10, 6, 2]
    assert ctx.range(0).collect() == []
    assert sizes(ctx.range(0, 11, numSlices=3)) == [3, 4, 4]


def test_empty_rdd(ctx: Context) -> None:
    empty = ctx.emptyRDD()
    assert empty.getNumPartitions() == 0
    assert empty.collect() == []
    assert empty.count() == 0
    assert empty.isEmpty()
    assert empty.glom().collect() == []


def test_context_union(ctx: Context) -> None:
    a, b, c = ctx.parallelize([1, 2], 2), ctx.parallelize([3], 1), ctx.emptyRDD()
    u = ctx.union([a, b, c])
    assert u.collect() == [1, 2, 3]
    assert u.getNumPartitions() == 3
    assert ctx.union([a]).collect() == [1, 2]
    with pytest.raises(ValueError):
        ctx.union([])
    with pytest.raises(TypeError):
        ctx.union([a, [4]])  # type: ignore[list-item]


def test_union_of_copartitioned_rdds_keeps_the_partitioner(ctx: Context) -> None:
    a = ctx.parallelize([(i, i) for i in range(10)], 3).partitionBy(4)
    b = ctx.parallelize([(i, -i) for i in range(5)], 2).partitionBy(4)
    u = ctx.union([a, b])
    assert u.getNumPartitions() == 4
    assert u.partitioner == a.partitioner
    for split, part in enumerate(u.glom().collect()):
        assert all(k % 4 == split for k, _ in part)
    assert sorted(u.collect()) == sorted([(i, i) for i in range(10)] + [(i, -i) for i in range(5)])
