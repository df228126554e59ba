"""Actions, each compared with plain Python; fold/aggregate use their zero once per partition."""

from __future__ import annotations

import math
import operator
import os
import statistics
from collections import Counter

import pytest

from dstream import Context, StatCounter

DATA = [5, -3, 12, 0, 7, 7, -11, 4, 9, 2]


@pytest.fixture(params=[1, 3, 12], ids=lambda n: f"{n}parts")
def nums(ctx: Context, request: pytest.FixtureRequest):
    return ctx.parallelize(DATA, request.param)


def test_collect_and_count(nums) -> None:
    assert nums.collect() == DATA
    assert nums.count() == len(DATA)


def test_collect_as_map_and_count_by_key(ctx: Context) -> None:
    pairs = [("a", 1), ("b", 2), ("a", 3)]
    rdd = ctx.parallelize(pairs, 2)
    assert rdd.collectAsMap() == dict(pairs)
    assert dict(rdd.countByKey()) == {"a": 2, "b": 1}


def test_count_by_value(nums) -> None:
    assert dict(nums.countByValue()) == dict(Counter(DATA))


def test_first_take_and_is_empty(ctx: Context, nums) -> None:
    assert nums.first() == DATA[0]
    for n in (0, 1, 3, len(DATA), len(DATA) + 5):
        assert nums.take(n) == DATA[:n]
    assert not nums.isEmpty()
    empty = ctx.parallelize([], 4)
    assert empty.isEmpty() and ctx.emptyRDD().isEmpty()
    assert empty.take(3) == []
    with pytest.raises(ValueError, match="empty"):
        empty.first()


def test_take_scans_only_the_partitions_it_needs(ctx: Context) -> None:
    seen = ctx.accumulator(0)
    rdd = ctx.parallelize(range(100), 10).map(lambda x: seen.add(1) or x)
    assert rdd.take(3) == [0, 1, 2]
    assert seen.value <= 10          # partition 0 only (and only as far as needed)
    assert ctx.parallelize(range(100), 10).filter(lambda x: x > 90).take(2) == [91, 92]


def test_take_ordered_and_top(nums) -> None:
    assert nums.takeOrdered(4) == sorted(DATA)[:4]
    assert nums.takeOrdered(4, key=lambda x: -x) == sorted(DATA, reverse=True)[:4]
    assert nums.top(3) == sorted(DATA, reverse=True)[:3]
    assert nums.top(3, key=abs) == sorted(DATA, key=abs, reverse=True)[:3]
    assert nums.top(0) == [] and nums.takeOrdered(100) == sorted(DATA)
    assert nums.top(-1) == []                 # PySpark: heapq.nlargest(-1, ...) is []
    with pytest.raises(ValueError, match=r"^top N cannot be negative\.$"):
        nums.takeOrdered(-1)


def test_reduce(ctx: Context, nums) -> None:
    assert nums.reduce(operator.add) == sum(DATA)
    assert nums.reduce(max) == max(DATA)
    with pytest.raises(ValueError, match="empty"):
        ctx.parallelize([], 3).reduce(operator.add)
    with pytest.raises(ValueError, match="empty"):
        ctx.emptyRDD().reduce(operator.add)


@pytest.mark.parametrize(("n", "expected"), [(1, 30), (2, 40), (3, 50)])
def test_fold_uses_zero_once_per_partition_and_once_more(ctx: Context, n: int, expected: int) -> None:
    assert ctx.parallelize([1, 2, 3, 4], n).fold(10, operator.add) == expected
    assert ctx.parallelize([1, 2, 3, 4], n).aggregate(10, operator.add, operator.add) == expected


def test_fold_and_aggregate_on_empty_rdd_give_the_zero(ctx: Context) -> None:
    assert ctx.emptyRDD().fold(10, operator.add) == 10
    assert ctx.emptyRDD().aggregate(10, operator.add, operator.add) == 10
    assert ctx.parallelize([], 2).fold(0, operator.add) == 0


def test_a_mutable_zero_is_copied_for_each_partition(ctx: Context) -> None:
    zero: list = []
    result = ctx.parallelize([1, 2, 3, 4], 2).aggregate(
        zero, lambda acc, x: acc.append(x) or acc, operator.add)
    assert result == [1, 2, 3, 4]
    assert zero == []
    merged = ctx.parallelize([[1], [2], [3]], 3).fold([], lambda a, b: a.extend(b) or a)
    assert sorted(merged) == [1, 2, 3]


def test_aggregate(nums) -> None:
    total, count = nums.aggregate((0, 0), lambda acc, x: (acc[0] + x, acc[1] + 1),
                                  lambda a, b: (a[0] + b[0], a[1] + b[1]))
    assert (total, count) == (sum(DATA), len(DATA))


def test_sum_max_min_mean(ctx: Context, nums) -> None:
    assert nums.sum() == sum(DATA)
    assert nums.max() == max(DATA) and nums.min() == min(DATA)
    assert nums.max(key=lambda x: -x) == min(DATA)
    assert nums.min(key=abs) == 0
    assert nums.mean() == pytest.approx(statistics.mean(DATA))
    assert ctx.parallelize([], 2).sum() == 0
    assert ctx.emptyRDD().sum() == 0


def test_stats(nums) -> None:
    stats = nums.stats()
    assert isinstance(stats, StatCounter)
    assert stats.count() == len(DATA)
    assert stats.mean() == pytest.approx(statistics.mean(DATA))
    assert stats.stdev() == pytest.approx(statistics.pstdev(DATA))
    assert stats.sampleStdev() == pytest.approx(statistics.stdev(DATA))
    assert stats.variance() == pytest.approx(statistics.pvariance(DATA))
    assert stats.max() == max(DATA) and stats.min() == min(DATA)
    assert stats.sum() == pytest.approx(sum(DATA))
    assert nums.variance() == pytest.approx(statistics.pvariance(DATA))
    assert nums.sampleVariance() == pytest.approx(statistics.variance(DATA))
    assert nums.stdev() == pytest.approx(statistics.pstdev(DATA))
    assert nums.sampleStdev() == pytest.approx(statistics.stdev(DATA))


def test_stats_of_floats_matches_pyspark_repr(ctx: Context) -> None:
    text = repr(ctx.parallelize([1.0, 2.0, 3.0], 2).stats())
    assert text == "(count: 3, mean: 2.0, stdev: 0.816496580927726, max: 3.0, min: 1.0)"
    assert math.isnan(StatCounter().variance())


def test_foreach_runs_once_per_element(ctx: Context, nums, tmp_path) -> None:
    seen = ctx.accumulator(0)
    nums.foreach(lambda x: seen.add(x))
    assert seen.value == sum(DATA)
    out = tmp_path / "foreach"
    out.mkdir()

    def touch(x: int) -> None:
        with open(out / f"{x}-{os.getpid()}", "w"):
            pass

    ctx.parallelize(range(5), 2).foreach(touch)
    assert sorted(int(name.split("-")[0]) for name in os.listdir(out)) == list(range(5))


def test_foreach_partition(ctx: Context, nums) -> None:
    sizes = ctx.accumulator([])
    nums.foreachPartition(lambda it: sizes.add([len(list(it))]))
    assert sorted(sizes.value) == sorted(len(p) for p in nums.glom().collect())


def test_foreach_partition_runs_a_generator_function_to_its_end(ctx: Context) -> None:
    seen = ctx.accumulator(0)

    def each(it):
        for x in it:
            seen.add(x)
            yield x

    ctx.parallelize([1, 2, 3], 2).foreachPartition(each)
    assert seen.value == 6
    # whatever else it returns stays on the worker
    ctx.parallelize([1, 2, 3], 2).foreachPartition(lambda it: object())


def test_run_job_on_chosen_partitions(ctx: Context) -> None:
    rdd = ctx.parallelize(range(10), 5)
    assert ctx.runJob(rdd, lambda it: [sum(it)], [1, 3]) == [2 + 3, 6 + 7]
    assert ctx.runJob(rdd, lambda it: it) == list(range(10))
    with pytest.raises(ValueError, match="does not exist"):
        ctx.runJob(rdd, lambda it: it, [5])


def test_reduce_by_key_locally_and_lookup(ctx: Context) -> None:
    pairs = ctx.parallelize([("a", 1), ("b", 2), ("a", 3), ("c", 4)], 3)
    assert pairs.reduceByKeyLocally(operator.add) == {"a": 4, "b": 2, "c": 4}
    assert sorted(pairs.lookup("a")) == [1, 3]
    partitioned = pairs.partitionBy(2)
    assert sorted(partitioned.lookup("a")) == [1, 3]
    assert partitioned.lookup("zzz") == []
