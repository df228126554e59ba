"""Broadcast variables and accumulators."""

from __future__ import annotations

import pytest

from dstream import Accumulator, AccumulatorParam, Broadcast, Context, TaskContext


def test_broadcast_value_in_tasks(ctx: Context) -> None:
    table = ctx.broadcast({i: chr(ord("a") + i) for i in range(26)})
    assert isinstance(table, Broadcast)
    assert table.value[2] == "c"
    assert ctx.parallelize(range(26), 4).map(lambda i: table.value[i]).collect() == \
        [chr(ord("a") + i) for i in range(26)]


def test_broadcast_of_a_large_value_is_read_per_worker(ctx: Context) -> None:
    big = ctx.broadcast(list(range(200_000)))
    sums = ctx.parallelize(range(8), 8).map(lambda i: big.value[i] + len(big.value)).collect()
    assert sums == [i + 200_000 for i in range(8)]


def test_broadcast_of_a_function(ctx: Context) -> None:
    offset = 7
    fn = ctx.broadcast(lambda x: x + offset)
    assert ctx.parallelize([1, 2], 2).map(lambda x: fn.value(x)).collect() == [8, 9]


def test_destroyed_broadcast_is_a_clear_error_on_workers(ctx: Context) -> None:
    b = ctx.broadcast("gone")
    b.unpersist()
    b.destroy()
    b.destroy()
    if ctx.master != "local":
        with pytest.raises(RuntimeError, match="broadcast variable file .* is gone"):
            ctx.parallelize([1]).map(lambda _: b.value).collect()


def test_accumulator_sums_over_tasks(ctx: Context) -> None:
    acc = ctx.accumulator(0)
    ctx.parallelize(range(100), 7).foreach(lambda x: acc.add(x))
    assert acc.value == sum(range(100))
    acc.add(1)
    assert acc.value == sum(range(100)) + 1
    acc += 2
    assert acc.value == sum(range(100)) + 3


def test_float_accumulator_in_a_transformation(ctx: Context) -> None:
    acc = ctx.accumulator(0.0)
    rdd = ctx.parallelize([0.5, 1.5, 2.0], 2).map(lambda x: acc.add(x) or x)
    assert rdd.sum() == 4.0
    assert acc.value == 4.0


def test_accumulator_counts_again_on_recompute(ctx: Context) -> None:
    acc = ctx.accumulator(0)
    rdd = ctx.parallelize(range(5), 2).map(lambda x: acc.add(1) or x)
    rdd.count()
    assert acc.value == 5
    rdd.collect()
    assert acc.value == 10
    rdd.map(lambda x: x).reduce(lambda a, b: a + b)
    assert acc.value == 15


def test_accumulator_in_a_shuffle_map_stage(ctx: Context) -> None:
    acc = ctx.accumulator(0)
    reduced = ctx.parallelize([(i % 2, i) for i in range(10)], 3).map(
        lambda kv: acc.add(1) or kv).reduceByKey(lambda a, b: a + b)
    assert sorted(reduced.collect()) == [(0, 20), (1, 25)]
    assert acc.value == 10
    reduced.collect()                 # map outputs are reused: no recompute
    assert acc.value == 10


class SetParam(AccumulatorParam):
    def zero(self, value: set) -> set:
        return set()

    def addInPlace(self, value1: set, value2: set) -> set:
        value1 |= value2
        return value1


def test_custom_accumulator_param(ctx: Context) -> None:
    seen = ctx.accumulator(set(), SetParam())
    ctx.parallelize(["a", "b", "a", "c"], 3).foreach(lambda w: seen.add({w}))
    assert seen.value == {"a", "b", "c"}
    assert isinstance(seen, Accumulator)


def test_list_accumulator(ctx: Context) -> None:
    acc = ctx.accumulator([])
    ctx.parallelize([1, 2, 3], 3).foreach(lambda x: acc.add([x]))
    assert sorted(acc.value) == [1, 2, 3]


def test_accumulator_value_is_driver_only(ctx: Context) -> None:
    acc = ctx.accumulator(0)

    def read(_: int) -> int:
        return acc.value

    with pytest.raises(RuntimeError, match="cannot be read inside a task"):
        ctx.parallelize([1]).map(read).collect()


def test_failed_attempts_do_not_count(ctx: Context) -> None:
    acc = ctx.accumulator(0)

    def flaky(x: int) -> int:
        acc.add(1)
        if TaskContext.get().attemptNumber() == 0 and x == 3:
            raise RuntimeError("first attempt fails")
        return x

    assert ctx.parallelize(range(6), 3).map(flaky).collect() == list(range(6))
    assert acc.value == 6
