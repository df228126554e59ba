"""Random pipelines of RDD operators on random inputs, empty ones and ``emptyRDD()`` included,
against a plain-Python reference, on ``local`` and ``local[2]``.

The reference (``Model``) follows every operator's records and PySpark's partition counts: a
shuffle keeps its parent's count by default, a join or cogroup adds both sides' counts unless
both sides share a hash partitioner (then the union keeps it and nothing is shuffled), ``coalesce``
never grows, ``repartition`` gives exactly what it is asked for, and ``sortByKey`` returns an
empty RDD as it is. Records keep the ``(key, int)`` shape through every operator, so pipelines
compose freely. Where the order of records is defined (narrow operators over known partitions,
sorts), the reference checks it; elsewhere it compares multisets.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dstream import Context
from dstream.rdd import RDD

from .conftest import PROPERTY_SETTINGS

Row = tuple[int, int]

# A Dask or worker thread may use ``random`` while examples are drawn; ours draw from Hypothesis.
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")


@pytest.fixture(scope="module", params=["local", "local[2]"], ids=["local", "local2"])
def ctx(request: pytest.FixtureRequest) -> Iterator[Context]:
    """One Context per master for the whole module (``local[2]`` starts worker processes)."""
    context = Context(request.param, "pipeline-properties")
    try:
        yield context
    finally:
        context.stop()


def budget(ctx: Context) -> settings:
    return settings(PROPERTY_SETTINGS, max_examples=150 if ctx.master == "local" else 60)


@dataclass(frozen=True)
class Model:
    """What an RDD holds, by PySpark's rules: ``parts`` when the layout is known (then the
    records' order is too), else only ``rows`` (a multiset, or sorted when ``sorted_by`` says
    how); ``n`` partitions; ``hashed`` is the partition count of the hash partitioner the RDD
    keeps, if any, and ``ranged`` stands for the range partitioner it keeps (one token per
    ``sortByKey``: range partitioners from the same sort are equal, so a self-join's union is
    aligned, as in PySpark)."""

    rows: tuple[Row, ...]
    n: int
    parts: tuple[tuple[Row, ...], ...] | None = None
    sorted_by: tuple[Callable[[Row], Any], bool] | None = None
    hashed: int | None = None
    ranged: object | None = None

    @staticmethod
    def of(layout: list[list[Row]]) -> Model:
        parts = tuple(tuple(p) for p in layout)
        return Model(tuple(r for p in parts for r in p), len(parts), parts)

    def narrow(self, per_row: Callable[[Row], list[Row]], keeps_partitioner: bool,
               keeps_order: bool) -> Model:
        kept = {"hashed": self.hashed, "ranged": self.ranged} if keeps_partitioner else {}
        if self.parts is not None:
            return replace(Model.of([[s for r in p for s in per_row(r)] for p in self.parts]),
                           **kept)
        return Model(tuple(s for r in self.rows for s in per_row(r)), self.n,
                     sorted_by=self.sorted_by if keeps_order else None, **kept)

    def shuffled(self, rows: Any, n: int, hashed: int | None) -> Model:
        return Model(tuple(rows), n, hashed=hashed)


def sums(rows: Any) -> dict[int, int]:
    out: dict[int, int] = {}
    for k, v in rows:
        out[k] = out.get(k, 0) + v
    return out


def groups(rows: Any) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for k, v in rows:
        out.setdefault(k, []).append(v)
    return out


def by_key_count(model: Model, out: int | None) -> int:
    return model.n if out is None else out


def join_count(a: Model, b: Model, out: int | None) -> tuple[int, int]:
    """Partitions of the tagged union and of the join's result."""
    aligned = ((a.hashed is not None and a.hashed == b.hashed)
               or (a.ranged is not None and a.ranged is b.ranged))
    union_n = a.n if aligned else a.n + b.n
    return union_n, union_n if out is None else out


def joined_rows(a: Model, b: Model, keep_left: bool, keep_right: bool) -> list[Row]:
    """Each key's left values times its right values; an outer side missing a key pairs with None."""
    ga, gb = groups(a.rows), groups(b.rows)
    rows = []
    for k in {*ga, *gb}:
        left: list[int | None] = list(ga.get(k, []))
        right: list[int | None] = list(gb.get(k, []))
        if keep_left and not right:
            right = [None]
        if keep_right and not left:
            left = [None]
        rows += [(k, encode_pair(v, w)) for v in left for w in right]
    return rows


def encode_pair(v: int | None, w: int | None) -> int:
    return (v if v is not None else -5000) * 7 + (w if w is not None else -9000)


def encode_groups(vs: list[int], ws: list[int]) -> int:
    return sum(vs) * 7 + sum(ws) + 1000 * len(vs) + 100000 * len(ws)


# ---------------------------------------------------------------------- the operators
# Each: a strategy for its parameters, what it does to an RDD (given the other side's RDD for
# binary operators) and to the model.
OUT = st.none() | st.integers(1, 4)
PAIRS = st.lists(st.tuples(st.integers(0, 5), st.integers(-20, 20)), max_size=10)


@st.composite
def sources(draw: Any, max_size: int = 10) -> tuple[list[Row], int | None]:
    """Records and a partition count for ``parallelize``; None is ``emptyRDD()``."""
    if draw(st.integers(0, 5)) == 0:
        return [], None
    return draw(st.lists(st.tuples(st.integers(0, 5), st.integers(-20, 20)), max_size=max_size)), \
        draw(st.integers(1, 5))


def double_odd(kv: Row) -> list[Row]:
    return [kv, (kv[0] + 1, kv[1])] if kv[1] % 2 else []


def apply_op(op: tuple, rdd: RDD, model: Model, make: Callable[[tuple], tuple[RDD, Model]]
             ) -> tuple[RDD, Model]:
    name, *args = op
    if name == "map":
        return (rdd.map(lambda kv: (kv[1] % 6, kv[0] - kv[1])),
                model.narrow(lambda kv: [(kv[1] % 6, kv[0] - kv[1])], False, False))
    if name == "mapValues":
        return (rdd.mapValues(lambda v: v * 3 - 1),
                model.narrow(lambda kv: [(kv[0], kv[1] * 3 - 1)], True, True))
    if name == "filter":
        return rdd.filter(lambda kv: kv[1] % 3 != 0), model.narrow(
            lambda kv: [kv] if kv[1] % 3 != 0 else [], True, True)
    if name == "flatMap":
        return rdd.flatMap(double_odd), model.narrow(double_odd, False, False)
    if name == "mapPartitions":   # reverses each partition: the layout matters
        if model.parts is not None:
            after = replace(Model.of([list(reversed(p)) for p in model.parts]))
        else:
            after = Model(model.rows, model.n)
        return rdd.mapPartitions(lambda it: reversed(list(it))), after
    if name == "union":
        other, other_model = make(args[0])
        if model.hashed is not None and model.hashed == other_model.hashed:
            return rdd.union(other), Model(model.rows + other_model.rows, model.n, hashed=model.hashed)
        if model.parts is not None and other_model.parts is not None:
            return rdd.union(other), Model.of([*map(list, model.parts), *map(list, other_model.parts)])
        return rdd.union(other), Model(model.rows + other_model.rows, model.n + other_model.n)
    if name == "distinct":
        out = args[0]
        return rdd.distinct(out), model.shuffled(set(model.rows), by_key_count(model, out), None)
    if name == "reduceByKey":
        n = by_key_count(model, args[0])
        return rdd.reduceByKey(operator.add, args[0]), model.shuffled(sums(model.rows).items(), n, n)
    if name == "groupByKey":
        n = by_key_count(model, args[0])
        rows = [(k, 1000 * len(vs) + sum(vs)) for k, vs in groups(model.rows).items()]
        return (rdd.groupByKey(args[0]).mapValues(lambda vs: 1000 * len(vs) + sum(vs)),
                model.shuffled(rows, n, n))
    if name in ("join", "leftOuterJoin", "fullOuterJoin", "selfJoin"):
        out = args[-1]
        if name == "selfJoin":
            other, other_model, method = rdd, model, "join"
        else:
            (other, other_model), method = make(args[0]), name
        keep_left, keep_right = method in ("leftOuterJoin", "fullOuterJoin"), method == "fullOuterJoin"
        _, n = join_count(model, other_model, out)
        result = getattr(rdd, method)(other, out).mapValues(lambda vw: encode_pair(*vw))
        return result, model.shuffled(joined_rows(model, other_model, keep_left, keep_right), n, n)
    if name == "cogroup":
        other, other_model = make(args[0])
        _, n = join_count(model, other_model, args[1])
        ga, gb = groups(model.rows), groups(other_model.rows)
        rows = [(k, encode_groups(ga.get(k, []), gb.get(k, []))) for k in {*ga, *gb}]
        result = rdd.cogroup(other, args[1]).mapValues(lambda g: encode_groups(list(g[0]), list(g[1])))
        return result, model.shuffled(rows, n, n)
    if name == "coalesce":
        m, shuffle = args
        n = m if shuffle else min(m, model.n)
        return rdd.coalesce(m, shuffle), Model(model.rows, n)
    if name == "repartition":
        return rdd.repartition(args[0]), Model(model.rows, args[0])
    if name == "sortByKey":
        ascending, out = args
        return rdd.sortByKey(ascending, out), sorted_model(model, out, lambda kv: kv[0], ascending, True)
    if name == "sortBy":
        ascending, out = args
        return (rdd.sortBy(lambda kv: kv[1], ascending, out),
                sorted_model(model, out, lambda kv: kv[1], ascending, False))
    raise AssertionError(f"unknown operator {name}")


def sorted_model(model: Model, out: int | None, key: Callable[[Row], Any], ascending: bool,
                 by_key: bool) -> Model:
    """PySpark's sortByKey: one partition (coalesced when there were more), or the empty RDD
    as it is, or ``out`` (default: the parent's count) range partitions."""
    wanted = model.n if out is None else out
    keeps = model.hashed if by_key else None         # sortBy keys its records first (a map)
    rows = tuple(sorted(model.rows, key=key, reverse=not ascending))
    if wanted == 1:
        return Model(rows, min(model.n, 1), sorted_by=(key, ascending),
                     hashed=keeps if model.n <= 1 else None)
    if not model.rows:      # sortByKey returns the RDD as it is; sortBy maps it first
        return Model((), model.n, hashed=keeps, ranged=model.ranged if by_key else None)
    return Model(rows, wanted, sorted_by=(key, ascending), ranged=object() if by_key else None)


def operators() -> st.SearchStrategy[tuple]:
    side = sources(max_size=6)
    return st.one_of(
        st.tuples(st.sampled_from(["map", "mapValues", "filter", "flatMap", "mapPartitions"])),
        st.tuples(st.just("union"), side),
        st.tuples(st.just("distinct"), OUT),
        st.tuples(st.just("reduceByKey"), OUT),
        st.tuples(st.just("groupByKey"), OUT),
        st.tuples(st.sampled_from(["join", "leftOuterJoin", "fullOuterJoin"]), side, OUT),
        st.tuples(st.just("selfJoin"), OUT),
        st.tuples(st.just("cogroup"), side, OUT),
        st.tuples(st.just("coalesce"), st.integers(1, 4), st.booleans()),
        st.tuples(st.just("repartition"), st.integers(1, 4)),
        st.tuples(st.just("sortByKey"), st.booleans(), OUT),
        st.tuples(st.just("sortBy"), st.booleans(), OUT),
    )


PIPELINES = st.lists(operators(), max_size=4)


def build(ctx: Context, source: tuple[list[Row], int | None]) -> tuple[RDD, Model]:
    data, n = source
    rdd = ctx.emptyRDD() if n is None else ctx.parallelize(data, n)
    return rdd, Model.of(rdd.glom().collect())       # the source's layout is an input


def run_pipeline(ctx: Context, source: tuple[list[Row], int | None], ops: list[tuple]) -> tuple[RDD, Model]:
    rdd, model = build(ctx, source)
    for op in ops:
        rdd, model = apply_op(op, rdd, model, lambda src: build(ctx, src))
    return rdd, model


def bag(rows: Any) -> Counter:
    return Counter(rows)


def assert_records(got: list[Row], model: Model) -> None:
    assert bag(got) == bag(model.rows)
    if model.parts is not None:
        assert got == list(model.rows)
    elif model.sorted_by is not None:
        key, ascending = model.sorted_by
        assert [key(r) for r in got] == [key(r) for r in model.rows]


# ---------------------------------------------------------------------- the properties
def test_pipelines_give_the_references_records_and_partition_counts(ctx: Context) -> None:
    @budget(ctx)
    @given(source=sources(), ops=PIPELINES)
    # a self-join of a range-partitioned RDD: the union of its two sides is aligned
    @example(source=([(0, 1), (3, 2), (5, 3), (1, 4)], 2), ops=[("sortByKey", False, 2),
                                                               ("selfJoin", None)])
    def check(source: tuple[list[Row], int | None], ops: list[tuple]) -> None:
        rdd, model = run_pipeline(ctx, source, ops)
        assert rdd.getNumPartitions() == model.n
        assert_records(rdd.collect(), model)
        layout = rdd.glom().collect()
        assert len(layout) == model.n
        if model.parts is not None:
            assert [tuple(p) for p in layout] == list(model.parts)

    check()


class Fails:
    def __init__(self, message: str) -> None:
        self.message = message


def reference_action(action: tuple, model: Model) -> Any:
    name, *args = action
    rows, values = list(model.rows), [v for _, v in model.rows]
    if name == "count":
        return len(rows)
    if name == "isEmpty":
        return not rows
    if name == "fold":
        return sum(values) + args[0] * (model.n + 1)
    if name == "aggregate":
        return (sum(values) + args[0] * (model.n + 1), len(values))
    if name == "treeAggregate":
        return args[0] if model.n == 0 else sum(values) + args[0] * model.n
    if name == "sum":
        return sum(values)
    if name == "reduce":
        return sum(values) if values else Fails("Can not reduce() empty RDD")
    if name == "max":
        return max(values) if values else Fails("Can not reduce() empty RDD")
    if name == "top":
        return Fails("Can not reduce() empty RDD") if model.n == 0 else sorted(rows, reverse=True)[:args[0]]
    if name == "takeOrdered":
        return [] if model.n == 0 else sorted(rows, key=lambda kv: (kv[1], kv[0]))[:args[0]]
    if name == "countByKey":
        return Fails("Can not reduce() empty RDD") if model.n == 0 else dict(Counter(k for k, _ in rows))
    if name == "reduceByKeyLocally":
        return Fails("Can not reduce() empty RDD") if model.n == 0 else sums(rows)
    if name == "distinctCount":
        return len(set(rows))
    raise AssertionError(name)


def run_action(action: tuple, rdd: RDD) -> Any:
    name, *args = action
    values = rdd.values()
    calls: dict[str, Callable[[], Any]] = {
        "count": rdd.count, "isEmpty": rdd.isEmpty, "sum": values.sum,
        "fold": lambda: values.fold(args[0], operator.add),
        "aggregate": lambda: values.aggregate((args[0], 0), lambda a, v: (a[0] + v, a[1] + 1),
                                              lambda a, b: (a[0] + b[0], a[1] + b[1])),
        "treeAggregate": lambda: values.treeAggregate(args[0], operator.add, operator.add),
        "reduce": lambda: values.reduce(operator.add), "max": values.max,
        "top": lambda: rdd.top(args[0]),
        "takeOrdered": lambda: rdd.takeOrdered(args[0], key=lambda kv: (kv[1], kv[0])),
        "countByKey": lambda: dict(rdd.countByKey()),
        "reduceByKeyLocally": lambda: rdd.reduceByKeyLocally(operator.add),
        "distinctCount": lambda: rdd.distinct().count(),
    }
    return calls[name]()


ACTIONS = st.one_of(
    st.tuples(st.sampled_from(["count", "isEmpty", "sum", "reduce", "max", "countByKey",
                               "reduceByKeyLocally", "distinctCount"])),
    st.tuples(st.sampled_from(["fold", "aggregate", "treeAggregate"]), st.integers(-3, 3)),
    st.tuples(st.sampled_from(["top", "takeOrdered"]), st.integers(0, 5)),
)


def test_actions_after_pipelines_give_pysparks_values_and_errors(ctx: Context) -> None:
    @budget(ctx)
    @given(source=sources(), ops=PIPELINES, actions=st.lists(ACTIONS, min_size=1, max_size=3))
    def check(source: tuple[list[Row], int | None], ops: list[tuple], actions: list[tuple]) -> None:
        rdd, model = run_pipeline(ctx, source, ops)
        for action in actions:
            expected = reference_action(action, model)
            if isinstance(expected, Fails):
                with pytest.raises(ValueError) as raised:
                    run_action(action, rdd)
                assert str(raised.value) == expected.message, action
            else:
                assert run_action(action, rdd) == expected, action

    check()


def test_take_and_first_follow_the_records_order(ctx: Context) -> None:
    @budget(ctx)
    @given(source=sources(), ops=PIPELINES, k=st.integers(0, 12))
    def check(source: tuple[list[Row], int | None], ops: list[tuple], k: int) -> None:
        rdd, model = run_pipeline(ctx, source, ops)
        taken = rdd.take(k)
        assert len(taken) == min(k, len(model.rows))
        assert not bag(taken) - bag(model.rows)
        if model.parts is not None:
            assert taken == list(model.rows[:k])
        elif model.sorted_by is not None:
            key, _ = model.sorted_by
            assert [key(r) for r in taken] == [key(r) for r in model.rows[:k]]
        if model.rows:
            first = rdd.first()
            assert first in model.rows
            if model.parts is not None:
                assert first == model.rows[0]
        else:
            with pytest.raises(ValueError, match=r"^RDD is empty$"):
                rdd.first()

    check()
