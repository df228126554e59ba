"""Operations on RDDs of ``(key, value)`` pairs: by-key aggregation, partitioning and joins.

They follow PySpark's construction (combine locally, ``partitionBy``, merge), so partition
counts and the order of results match PySpark's.

>>> pairs = sc.parallelize([("a", 1), ("b", 2), ("a", 3)], 2)
>>> sorted(pairs.reduceByKey(lambda x, y: x + y).collect())
[('a', 4), ('b', 2)]
"""

from __future__ import annotations

import copy
from typing import (TYPE_CHECKING, Any, Callable, Hashable, Iterable, Iterator, Literal, TypeVar,
                    overload)

from .aggregation import (ResultIterable, combine_combiners, combine_values, group_values,
                          identity)
from .hashing import portable_hash
from .partitioner import Partitioner, RangePartitioner

if TYPE_CHECKING:
    from .rdd import RDD

__all__ = ["PairOperations"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
W = TypeVar("W")
U = TypeVar("U")
C = TypeVar("C")


class PairOperations:
    """Mixed into ``RDD``: the methods that need elements to be ``(key, value)`` pairs."""

    # Each method's ``self`` is the RDD it is called on, so a call on an RDD that does not hold
    # pairs fails the type check. mypy does not accept a self type that is a subclass of a mixin
    # ("erased type of self ... is not a supertype of its class"): each def ignores that error.

    # ------------------------------------------------------------------ simple
    def keys(self: RDD[tuple[K, V]]) -> RDD[K]:  # type: ignore[misc]  # RDD mixin
        """The key of each pair.

        >>> sc.parallelize([(1, 2), (3, 4)]).keys().collect()
        [1, 3]
        """
        return self.map(lambda kv: kv[0])

    def values(self: RDD[tuple[K, V]]) -> RDD[V]:  # type: ignore[misc]  # RDD mixin
        """The value of each pair.

        >>> sc.parallelize([(1, 2), (3, 4)]).values().collect()
        [2, 4]
        """
        return self.map(lambda kv: kv[1])

    def mapValues(self: RDD[tuple[K, V]], f: Callable[[V], U]  # type: ignore[misc]  # RDD mixin
                  ) -> RDD[tuple[K, U]]:
        """Apply ``f`` to each value, keeping the key and the partitioning.

        >>> sc.parallelize([("a", 1)]).mapValues(lambda v: v * 10).collect()
        [('a', 10)]
        """
        return self.map(lambda kv: (kv[0], f(kv[1])), True)

    def flatMapValues(self: RDD[tuple[K, V]],  # type: ignore[misc]  # RDD mixin
                      f: Callable[[V], Iterable[U]]) -> RDD[tuple[K, U]]:
        """Pairs ``(k, x)`` for each ``x`` in ``f(v)``, keeping the partitioning.

        >>> x = sc.parallelize([("a", ["x", "y", "z"]), ("b", ["p", "r"])])
        >>> x.flatMapValues(lambda v: v).collect()
        [('a', 'x'), ('a', 'y'), ('a', 'z'), ('b', 'p'), ('b', 'r')]
        """
        return self.flatMap(lambda kv: ((kv[0], x) for x in f(kv[1])), True)

    def collectAsMap(self: RDD[tuple[K, V]]) -> dict[K, V]:  # type: ignore[misc]  # RDD mixin
        """The pairs as a dict on the driver (of two pairs with one key, the later wins).

        >>> m = sc.parallelize([(1, 2), (3, 4)]).collectAsMap()
        >>> m[1], m[3]
        (2, 4)
        """
        return dict(self.collect())

    def countByKey(self: RDD[tuple[K, V]]) -> dict[K, int]:  # type: ignore[misc]  # RDD mixin
        """Each key's number of pairs, as a dict.

        >>> rdd = sc.parallelize([("a", 1), ("b", 1), ("a", 1)])
        >>> sorted(rdd.countByKey().items())
        [('a', 2), ('b', 1)]
        """
        return self.map(lambda kv: kv[0]).countByValue()

    def lookup(self: RDD[tuple[K, V]], key: K) -> list[V]:  # type: ignore[misc]  # RDD mixin
        """The values of ``key``; reads one partition only when the RDD has a partitioner.

        >>> rdd = sc.parallelize(zip(range(1000), range(1000)), 10)
        >>> rdd.lookup(42)
        [42]
        >>> sorted_rdd = rdd.sortByKey()
        >>> sorted_rdd.lookup(42), sorted_rdd.lookup(1024)
        ([42], [])
        """
        values = self.filter(lambda kv: kv[0] == key).values()
        if self.partitioner is not None and self.getNumPartitions() > 0:
            split = self.partitioner(key)
            return self.ctx._run_job(values, lambda _, it: list(it), [split])[0]
        return values.collect()

    # ------------------------------------------------------------------ partitioning
    def _defaultReducePartitions(self: RDD[Any]) -> int:  # type: ignore[misc]  # RDD mixin
        if self.ctx._conf.contains("spark.default.parallelism"):
            return self.ctx.defaultParallelism
        return self.getNumPartitions()

    def partitionBy(self: RDD[tuple[K, V]], numPartitions: int | None,  # type: ignore[misc]  # RDD mixin
                    partitionFunc: Callable[[K], int] | None = None) -> RDD[tuple[K, V]]:
        """Send each pair to partition ``partitionFunc(key) % numPartitions``.

        >>> sc.parallelize([(0, "x"), (1, "y"), (2, "z")]).partitionBy(2).glom().collect()
        [[(0, 'x'), (2, 'z')], [(1, 'y')]]
        """
        from .rdd import ShuffledRDD
        if numPartitions is None:
            numPartitions = self._defaultReducePartitions()
        partitioner = Partitioner(numPartitions, partitionFunc or portable_hash)
        if self.partitioner == partitioner:
            return self
        return ShuffledRDD(self, partitioner)

    # ------------------------------------------------------------------ aggregation
    def combineByKey(self: RDD[tuple[K, V]],  # type: ignore[misc]  # RDD mixin
                     createCombiner: Callable[[V], C],
                     mergeValue: Callable[[C, V], C], mergeCombiners: Callable[[C, C], C],
                     numPartitions: int | None = None,
                     partitionFunc: Callable[[K], int] | None = None) -> RDD[tuple[K, C]]:
        """The general by-key aggregation; combines on the map side before the shuffle.

        >>> pairs = sc.parallelize([("a", 1), ("a", 2), ("b", 3)], 2)
        >>> to_list, append, extend = (lambda v: [v]), (lambda c, v: c + [v]), (lambda a, b: a + b)
        >>> sorted(pairs.combineByKey(to_list, append, extend).collect())
        [('a', [1, 2]), ('b', [3])]
        """
        if numPartitions is None:
            numPartitions = self._defaultReducePartitions()
        locally = self.mapPartitions(
            lambda it: combine_values(it, createCombiner, mergeValue).items(), True)
        shuffled = locally.partitionBy(numPartitions, partitionFunc)
        return shuffled.mapPartitions(
            lambda it: combine_combiners(it, mergeCombiners).items(), True)

    def reduceByKey(self: RDD[tuple[K, V]], func: Callable[[V, V], V],  # type: ignore[misc]  # RDD mixin
                    numPartitions: int | None = None,
                    partitionFunc: Callable[[K], int] | None = None) -> RDD[tuple[K, V]]:
        """Each key's values merged with ``func`` (on the map side first, then after the shuffle).

        >>> from operator import add
        >>> rdd = sc.parallelize([("a", 1), ("b", 1), ("a", 1)])
        >>> sorted(rdd.reduceByKey(add).collect())
        [('a', 2), ('b', 1)]
        """
        return self.combineByKey(identity, func, func, numPartitions, partitionFunc)

    def reduceByKeyLocally(self: RDD[tuple[K, V]],  # type: ignore[misc]  # RDD mixin
                           func: Callable[[V, V], V]) -> dict[K, V]:
        """Each key's values reduced into a dict on the driver. As in PySpark the partitions'
        dicts are merged with ``reduce``, so ``emptyRDD()`` raises ``ValueError``.

        >>> sc.parallelize([("a", 1), ("a", 2)], 2).reduceByKeyLocally(lambda x, y: x + y)
        {'a': 3}
        """
        def merge(a: dict[K, V], b: dict[K, V]) -> dict[K, V]:
            for k, v in b.items():
                a[k] = func(a[k], v) if k in a else v
            return a

        return self.mapPartitions(lambda it: [combine_values(it, identity, func)]).reduce(merge)

    def aggregateByKey(self: RDD[tuple[K, V]], zeroValue: U,  # type: ignore[misc]  # RDD mixin
                       seqFunc: Callable[[U, V], U],
                       combFunc: Callable[[U, U], U], numPartitions: int | None = None,
                       partitionFunc: Callable[[K], int] | None = None) -> RDD[tuple[K, U]]:
        """Each key's values folded from ``zeroValue`` with ``seqFunc`` in each partition, then
        merged across partitions with ``combFunc``.

        >>> rdd = sc.parallelize([("a", 1), ("b", 1), ("a", 2)])
        >>> seqFunc = lambda acc, v: (acc[0] + v, acc[1] + 1)
        >>> combFunc = lambda a, b: (a[0] + b[0], a[1] + b[1])
        >>> sorted(rdd.aggregateByKey((0, 0), seqFunc, combFunc).collect())
        [('a', (3, 2)), ('b', (1, 1))]
        """
        return self.combineByKey(lambda v: seqFunc(copy.deepcopy(zeroValue), v), seqFunc,
                                 combFunc, numPartitions, partitionFunc)

    def foldByKey(self: RDD[tuple[K, V]], zeroValue: V,  # type: ignore[misc]  # RDD mixin
                  func: Callable[[V, V], V],
                  numPartitions: int | None = None,
                  partitionFunc: Callable[[K], int] | None = None) -> RDD[tuple[K, V]]:
        """Each key's values folded with ``func`` from ``zeroValue`` (once per key and partition).

        >>> from operator import add
        >>> rdd = sc.parallelize([("a", 1), ("b", 1), ("a", 1)])
        >>> sorted(rdd.foldByKey(0, add).collect())
        [('a', 2), ('b', 1)]
        """
        return self.combineByKey(lambda v: func(copy.deepcopy(zeroValue), v), func, func,
                                 numPartitions, partitionFunc)

    def groupByKey(self: RDD[tuple[K, V]],  # type: ignore[misc]  # RDD mixin
                   numPartitions: int | None = None,
                   partitionFunc: Callable[[K], int] | None = None
                   ) -> RDD[tuple[K, ResultIterable[V]]]:
        """Each key with an iterable of its values (to aggregate them, ``reduceByKey`` or
        ``aggregateByKey`` ship less data).

        >>> pairs = sc.parallelize([("a", 1), ("b", 3), ("a", 2)], 2)
        >>> sorted((k, list(v)) for k, v in pairs.groupByKey().collect())
        [('a', [1, 2]), ('b', [3])]
        """
        if numPartitions is None:
            numPartitions = self._defaultReducePartitions()
        locally = self.mapPartitions(lambda it: group_values(it).items(), True)
        shuffled = locally.partitionBy(numPartitions, partitionFunc)
        return shuffled.mapPartitions(
            lambda it: combine_combiners(it, _extend).items(), True).mapValues(ResultIterable)

    def sortByKey(self: RDD[tuple[K, V]], ascending: bool = True,  # type: ignore[misc]  # RDD mixin
                  numPartitions: int | None = None,
                  keyfunc: Callable[[K], Any] = lambda k: k) -> RDD[tuple[K, V]]:
        """Sort by key; range-partitioned from a sample, so partition ``i`` holds smaller keys
        than partition ``i + 1``.

        >>> sc.parallelize([(3, "c"), (1, "a"), (2, "b")], 2).sortByKey().collect()
        [(1, 'a'), (2, 'b'), (3, 'c')]
        """
        if numPartitions is None:
            numPartitions = self._defaultReducePartitions()

        def sort_partition(it: Iterator[tuple[K, V]]) -> list[tuple[K, V]]:
            return sorted(it, key=lambda kv: keyfunc(kv[0]), reverse=not ascending)

        if numPartitions == 1:
            if self.getNumPartitions() > 1:
                self = self.coalesce(1)
            return self.mapPartitions(sort_partition, True)
        size = self.count()
        if not size:
            return self  # empty: nothing to sample bounds from (PySpark returns it as is)
        fraction = min(numPartitions * 20.0 / max(size, 1), 1.0)
        samples = sorted(self.sample(False, fraction, 1).map(lambda kv: kv[0]).collect(), key=keyfunc)
        bounds = [keyfunc(samples[int(len(samples) * (i + 1) / numPartitions)])
                  for i in range(numPartitions - 1)] if samples else []
        partitioner = RangePartitioner(bounds, ascending, keyfunc)
        from .rdd import ShuffledRDD
        shuffled = ShuffledRDD(self, partitioner, num_partitions=numPartitions)
        return shuffled.mapPartitions(sort_partition, True)

    # ------------------------------------------------------------------ joins
    def cogroup(self: RDD[tuple[K, V]], other: RDD[tuple[K, W]],  # type: ignore[misc]  # RDD mixin
                numPartitions: int | None = None
                ) -> RDD[tuple[K, tuple[ResultIterable[V], ResultIterable[W]]]]:
        """Each key of either RDD with a pair of iterables: its values in this RDD and in
        ``other``.

        >>> a, b = sc.parallelize([("k", 1)]), sc.parallelize([("k", 2), ("j", 3)])
        >>> sorted((k, tuple(map(list, vs))) for k, vs in a.cogroup(b).collect())
        [('j', ([], [3])), ('k', ([1], [2]))]
        """
        return _tagged_groups((self, other), numPartitions).mapValues(
            lambda tagged: _split_tagged(tagged, 2))

    def groupWith(self: RDD[tuple[K, V]], other: RDD[tuple[K, W]],  # type: ignore[misc]  # RDD mixin
                  *others: RDD[tuple[K, Any]]) -> RDD[tuple[K, tuple[ResultIterable[Any], ...]]]:
        """``cogroup`` of any number of RDDs: each key with a tuple of value iterables, one per
        RDD.

        >>> w = sc.parallelize([("a", 5), ("b", 6)])
        >>> x = sc.parallelize([("a", 1), ("b", 4)])
        >>> y = sc.parallelize([("a", 2)])
        >>> z = sc.parallelize([("b", 42)])
        >>> [(k, tuple(map(list, vs))) for k, vs in sorted(w.groupWith(x, y, z).collect())]
        [('a', ([5], [1], [2], [])), ('b', ([6], [4], [], [42]))]
        """
        rdds: tuple[RDD[tuple[K, Any]], ...] = (self, other, *others)
        return _tagged_groups(rdds, None).mapValues(lambda t: _split_tagged(t, len(rdds)))

    def join(self: RDD[tuple[K, V]], other: RDD[tuple[K, W]],  # type: ignore[misc]  # RDD mixin
             numPartitions: int | None = None) -> RDD[tuple[K, tuple[V, W]]]:
        """Inner join; partitions default to the sum of both sides' counts.

        >>> sc.parallelize([("a", 1)]).join(sc.parallelize([("a", 2), ("b", 3)])).collect()
        [('a', (1, 2))]
        """
        return _tagged_groups((self, other), numPartitions).flatMapValues(
            lambda t: _dispatch_join(t, False, False))

    def leftOuterJoin(self: RDD[tuple[K, V]], other: RDD[tuple[K, W]],  # type: ignore[misc]  # RDD mixin
                      numPartitions: int | None = None) -> RDD[tuple[K, tuple[V, W | None]]]:
        """Every pair of this RDD, with each matching value of ``other`` or None.

        >>> x = sc.parallelize([("a", 1), ("b", 4)])
        >>> y = sc.parallelize([("a", 2)])
        >>> sorted(x.leftOuterJoin(y).collect())
        [('a', (1, 2)), ('b', (4, None))]
        """
        return _tagged_groups((self, other), numPartitions).flatMapValues(
            lambda t: _dispatch_join(t, True, False))

    def rightOuterJoin(self: RDD[tuple[K, V]], other: RDD[tuple[K, W]],  # type: ignore[misc]  # RDD mixin
                       numPartitions: int | None = None) -> RDD[tuple[K, tuple[V | None, W]]]:
        """Every pair of ``other``, with each matching value of this RDD or None.

        >>> x = sc.parallelize([("a", 1), ("b", 4)])
        >>> y = sc.parallelize([("a", 2)])
        >>> sorted(y.rightOuterJoin(x).collect())
        [('a', (2, 1)), ('b', (None, 4))]
        """
        return _tagged_groups((self, other), numPartitions).flatMapValues(
            lambda t: _dispatch_join(t, False, True))

    def fullOuterJoin(self: RDD[tuple[K, V]], other: RDD[tuple[K, W]],  # type: ignore[misc]  # RDD mixin
                      numPartitions: int | None = None
                      ) -> RDD[tuple[K, tuple[V | None, W | None]]]:
        """Every key of either side, with None for the side that lacks it.

        >>> x = sc.parallelize([("a", 1), ("b", 4)])
        >>> y = sc.parallelize([("a", 2), ("c", 8)])
        >>> sorted(x.fullOuterJoin(y).collect())
        [('a', (1, 2)), ('b', (4, None)), ('c', (None, 8))]
        """
        return _tagged_groups((self, other), numPartitions).flatMapValues(
            lambda t: _dispatch_join(t, True, True))

    def subtractByKey(self: RDD[tuple[K, V]], other: RDD[tuple[K, Any]],  # type: ignore[misc]  # RDD mixin
                      numPartitions: int | None = None) -> RDD[tuple[K, V]]:
        """The pairs of this RDD whose key is not in ``other``.

        >>> sc.parallelize([("a", 1), ("b", 2)]).subtractByKey(sc.parallelize([("b", 0)])).collect()
        [('a', 1)]
        """
        return (self.cogroup(other, numPartitions)
                .filter(lambda kv: bool(kv[1][0]) and not kv[1][1])
                .flatMapValues(lambda vs: vs[0]))


def _extend(a: list[V], b: list[V]) -> list[V]:
    a.extend(b)
    return a


def _tagged_groups(rdds: tuple[RDD[tuple[K, Any]], ...], numPartitions: int | None
                   ) -> RDD[tuple[K, ResultIterable[tuple[int, Any]]]]:
    """Union of ``(k, (i, v))`` from the i-th RDD, grouped by key (PySpark's join plan)."""
    tagged = [rdd.mapValues(lambda v, i=i: (i, v))  # type: ignore[misc]  # a default in a lambda
              for i, rdd in enumerate(rdds)]
    return rdds[0].ctx.union(tagged).groupByKey(numPartitions)


@overload
def _split_tagged(tagged: Iterable[tuple[int, Any]], n: Literal[2]
                  ) -> tuple[ResultIterable[Any], ResultIterable[Any]]: ...
@overload
def _split_tagged(tagged: Iterable[tuple[int, Any]], n: int) -> tuple[ResultIterable[Any], ...]: ...


def _split_tagged(tagged: Iterable[tuple[int, Any]], n: int) -> tuple[ResultIterable[Any], ...]:
    groups: list[ResultIterable[Any]] = [ResultIterable() for _ in range(n)]
    for i, v in tagged:
        groups[i].append(v)
    return tuple(groups)


def _dispatch_join(tagged: Iterable[tuple[int, Any]], keep_left: bool, keep_right: bool
                   ) -> list[tuple[Any, Any]]:
    left: list[Any]
    right: list[Any]
    left, right = _split_tagged(tagged, 2)
    if keep_left and not right:
        right = [None]
    if keep_right and not left:
        left = [None]
    return [(v, w) for v in left for w in right]
