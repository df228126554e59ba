"""Properties of the shuffle operators over random data and partition counts.

Every operator is compared with a plain-Python reference; most examples run on ``local``,
a few on ``local[2]`` and ``dask-local[2]`` (see ``conftest.examples``).
"""

from __future__ import annotations

import operator
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dstream import Context, portable_hash
from dstream.context import _slice_list

from .conftest import examples, reference_groups

# A Dask client's threads use the global ``random`` module while examples are drawn, which
# Hypothesis takes for a strategy doing so; our strategies draw only from Hypothesis.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies")

KEYS = st.one_of(st.integers(-4, 4), st.sampled_from(["a", "b", "ü", "😀", ""]), st.none(),
                 st.tuples(st.integers(0, 2), st.sampled_from("xy")))
PAIRS = st.lists(st.tuples(KEYS, st.integers(-100, 100)), max_size=40)
PARTS = st.integers(1, 6)
OUT_PARTS = st.none() | st.integers(1, 6)


def bag(rows: Any) -> Counter:
    """A multiset of rows that works for keys of mixed types."""
    return Counter(map(repr, rows))


def canon_groups(rows: Any) -> dict[str, list]:
    return {repr(k): sorted(vs) for k, vs in rows}


def assert_hash_placed(rdd) -> None:
    n = rdd.getNumPartitions()
    for split, part in enumerate(rdd.glom().collect()):
        assert all(portable_hash(k) % n == split for k, _ in part)


def keys_per_partition(data: list, n: int) -> Counter:
    """For each key, in how many of ``parallelize(data, n)``'s partitions it appears."""
    return Counter(k for part in _slice_list(data, n) for k in {kk for kk, _ in part})


# ---------------------------------------------------------------------- by-key aggregation
def test_reduce_by_key(ctx: Context) -> None:
    @examples(ctx, local=150, processes=15)
    @given(data=PAIRS, n=PARTS, out=OUT_PARTS)
    def check(data, n, out) -> None:
        rdd = ctx.parallelize(data, n).reduceByKey(operator.add, out)
        expected = {repr(k): sum(vs) for k, vs in reference_groups(data).items()}
        got = rdd.collect()
        assert {repr(k): v for k, v in got} == expected and len(got) == len(expected)
        assert rdd.getNumPartitions() == (out or n)
        assert_hash_placed(rdd)

    check()


def test_group_by_key(ctx: Context) -> None:
    @examples(ctx, local=150, processes=15)
    @given(data=PAIRS, n=PARTS, out=OUT_PARTS)
    def check(data, n, out) -> None:
        rdd = ctx.parallelize(data, n).groupByKey(out)
        expected = canon_groups(reference_groups(data).items())
        assert canon_groups(rdd.collect()) == expected
        assert canon_groups(rdd.collect()) == expected           # map outputs reused intact
        assert rdd.getNumPartitions() == (out or n)

    check()


def test_combine_by_key_with_in_place_combiners(ctx: Context) -> None:
    def append(c: list, v: int) -> list:
        c.append(v)
        return c

    def extend(a: list, b: list) -> list:
        a.extend(b)
        return a

    @examples(ctx, local=150, processes=15)
    @given(data=PAIRS, n=PARTS, out=OUT_PARTS)
    def check(data, n, out) -> None:
        rdd = ctx.parallelize(data, n).combineByKey(lambda v: [v], append, extend, out)
        expected = canon_groups(reference_groups(data).items())
        assert canon_groups(rdd.collect()) == expected
        assert canon_groups(rdd.collect()) == expected
        assert rdd.getNumPartitions() == (out or n)

    check()


def test_aggregate_by_key_uses_zero_per_key_and_partition(ctx: Context) -> None:
    @examples(ctx, local=150, processes=15)
    @given(data=PAIRS, n=PARTS, out=OUT_PARTS, zero=st.integers(0, 1000))
    def check(data, n, out, zero) -> None:
        rdd = ctx.parallelize(data, n).aggregateByKey(
            (zero, 0), lambda acc, v: (acc[0] + v, acc[1] + 1), lambda a, b: (a[0] + b[0], a[1] + b[1]), out)
        seen_in = keys_per_partition(data, n)
        expected = {repr(k): (sum(vs) + zero * seen_in[k], len(vs))
                    for k, vs in reference_groups(data).items()}
        assert {repr(k): v for k, v in rdd.collect()} == expected
        assert rdd.getNumPartitions() == (out or n)

    check()


def test_fold_by_key_uses_zero_per_key_and_partition(ctx: Context) -> None:
    @examples(ctx, local=150, processes=15)
    @given(data=PAIRS, n=PARTS, out=OUT_PARTS, zero=st.integers(-10, 10))
    def check(data, n, out, zero) -> None:
        rdd = ctx.parallelize(data, n).foldByKey(zero, operator.add, out)
        seen_in = keys_per_partition(data, n)
        expected = {repr(k): sum(vs) + zero * seen_in[k] for k, vs in reference_groups(data).items()}
        assert {repr(k): v for k, v in rdd.collect()} == expected
        assert rdd.getNumPartitions() == (out or n)

    check()


# ---------------------------------------------------------------------- joins
def inner(left, right):
    return [(k, (v, w)) for k, v in left for k2, w in right if k == k2]


def outer_rows(left, right, keep_left: bool, keep_right: bool):
    rows = inner(left, right)
    left_keys, right_keys = {k for k, _ in left}, {k for k, _ in right}
    if keep_left:
        rows += [(k, (v, None)) for k, v in left if k not in right_keys]
    if keep_right:
        rows += [(k, (None, w)) for k, w in right if k not in left_keys]
    return rows


def test_join_family(ctx: Context) -> None:
    @examples(ctx, local=120, processes=12)
    @given(left=PAIRS, right=PAIRS, na=PARTS, nb=PARTS, out=OUT_PARTS)
    def check(left, right, na, nb, out) -> None:
        a, b = ctx.parallelize(left, na), ctx.parallelize(right, nb)
        for method, keep_left, keep_right in (("join", False, False), ("leftOuterJoin", True, False),
                                              ("rightOuterJoin", False, True),
                                              ("fullOuterJoin", True, True)):
            rdd = getattr(a, method)(b, out)
            assert bag(rdd.collect()) == bag(outer_rows(left, right, keep_left, keep_right)), method
            assert rdd.getNumPartitions() == (out or na + nb)

    check()


def test_cogroup(ctx: Context) -> None:
    @examples(ctx, local=120, processes=12)
    @given(left=PAIRS, right=PAIRS, na=PARTS, nb=PARTS, out=OUT_PARTS)
    def check(left, right, na, nb, out) -> None:
        rdd = ctx.parallelize(left, na).cogroup(ctx.parallelize(right, nb), out)
        lg, rg = reference_groups(left), reference_groups(right)
        expected = {repr(k): (sorted(lg.get(k, [])), sorted(rg.get(k, []))) for k in {*lg, *rg}}
        got = rdd.collect()
        assert {repr(k): (sorted(vs), sorted(ws)) for k, (vs, ws) in got} == expected
        assert len(got) == len(expected)
        assert rdd.getNumPartitions() == (out or na + nb)

    check()


def test_subtract_by_key(ctx: Context) -> None:
    @examples(ctx, local=120, processes=12)
    @given(left=PAIRS, right=PAIRS, na=PARTS, nb=PARTS, out=OUT_PARTS)
    def check(left, right, na, nb, out) -> None:
        rdd = ctx.parallelize(left, na).subtractByKey(ctx.parallelize(right, nb), out)
        right_keys = {k for k, _ in right}
        assert bag(rdd.collect()) == bag((k, v) for k, v in left if k not in right_keys)

    check()


# ---------------------------------------------------------------------- set operations
def test_distinct(ctx: Context) -> None:
    @examples(ctx, local=150, processes=15)
    @given(data=st.lists(KEYS, max_size=40), n=PARTS, out=OUT_PARTS)
    def check(data, n, out) -> None:
        rdd = ctx.parallelize(data, n).distinct(out)
        got = rdd.collect()
        assert bag(got) == bag(set(data))
        assert rdd.getNumPartitions() == (out or n)

    check()


def test_subtract_and_intersection(ctx: Context) -> None:
    @examples(ctx, local=120, processes=12)
    @given(a=st.lists(KEYS, max_size=30), b=st.lists(KEYS, max_size=30), na=PARTS, nb=PARTS)
    def check(a, b, na, nb) -> None:
        left, right = ctx.parallelize(a, na), ctx.parallelize(b, nb)
        assert bag(left.subtract(right).collect()) == bag(x for x in a if x not in set(b))
        assert bag(left.intersection(right).collect()) == bag(set(a) & set(b))

    check()


# ---------------------------------------------------------------------- partitioning and sorting
def test_sort_by_key(ctx: Context) -> None:
    @examples(ctx, local=150, processes=15)
    @given(data=st.lists(st.tuples(st.integers(-30, 30), st.integers()), max_size=60), n=PARTS,
           out=OUT_PARTS, ascending=st.booleans())
    def check(data, n, out, ascending) -> None:
        rdd = ctx.parallelize(data, n).sortByKey(ascending, out)
        got = rdd.collect()
        assert [k for k, _ in got] == sorted((k for k, _ in data), reverse=not ascending)
        assert Counter(got) == Counter(data)
        wanted = out or n
        assert rdd.getNumPartitions() == (1 if wanted == 1 else wanted if data else n)
        keys = [[k for k, _ in part] for part in rdd.glom().collect() if part]
        for before, after in zip(keys, keys[1:]):
            assert (max(before) <= min(after)) if ascending else (min(before) >= max(after))

    check()


def test_partition_by(ctx: Context) -> None:
    @examples(ctx, local=150, processes=15)
    @given(data=PAIRS, n=PARTS, out=PARTS)
    def check(data, n, out) -> None:
        rdd = ctx.parallelize(data, n).partitionBy(out)
        assert bag(rdd.collect()) == bag(data)
        assert rdd.getNumPartitions() == out
        assert_hash_placed(rdd)
        # records of one key keep their input order
        for part in rdd.glom().collect():
            for key, values in reference_groups(part).items():
                assert values == [v for k, v in data if k == key]

    check()


def test_repartition_and_coalesce(ctx: Context) -> None:
    @examples(ctx, local=150, processes=15)
    @given(data=st.lists(st.integers(), max_size=60), n=PARTS, out=PARTS)
    def check(data, n, out) -> None:
        source = ctx.parallelize(data, n)
        repartitioned = source.repartition(out)
        assert Counter(repartitioned.collect()) == Counter(data)
        sizes = repartitioned.glom().map(len).collect()
        assert len(sizes) == out and max(sizes) - min(sizes) <= n
        coalesced = source.coalesce(out)
        assert coalesced.collect() == data                       # no shuffle: order kept
        assert coalesced.getNumPartitions() == min(out, n)
        shuffled = source.coalesce(out, shuffle=True)
        assert Counter(shuffled.collect()) == Counter(data) and shuffled.getNumPartitions() == out

    check()
