"""DStream: a sequence of RDDs, one per batch, and PySpark's operators on it.

Every operator is a transformation of each batch's RDD; narrow ones are ``transform``s,
and consecutive ``transform``s fold into one function, as in PySpark.

>>> from dstream import Context, StreamingContext
>>> from dstream.streaming.testing import run_batches
>>> with Context("local") as ctx:
...     ssc = StreamingContext(ctx, 1, clock="manual")
...     stream = ssc.queueStream([[1, 2], [3]]).map(lambda x: x * 10)
...     run_batches(ssc, stream, 2)
[[10, 20], [30]]
"""

from __future__ import annotations

import inspect
import itertools
import logging
import operator
import threading
import warnings
from types import CodeType
from typing import TYPE_CHECKING, Any, Callable, Generic, Hashable, Iterable, Iterator, TypeVar

from ..callsite import call_site_override, user_call_site
from ..rdd import RDD
from ..storagelevel import StorageLevel
from .arguments import check_duration, check_function, on
from .durations import batch_datetime, check_multiple, to_ms
from .event_ops import EventTimeOperations
from .failures import user_codes
from .pair_ops import PairDStreamOperations
from .sinks.kafka_sink import KafkaSink, to_bytes
from .sinks.redis_sink import RedisSink
from .sinks.text_files import save_batch_as_text_files
from .state_ops import StateOperations
from .window_ops import WindowOperations

if TYPE_CHECKING:
    from .context import StreamingContext

__all__ = ["DStream", "TransformedDStream", "TransformedWithDStream", "ForEachDStream", "adapt_time_func"]

T = TypeVar("T")
U = TypeVar("U")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

log = logging.getLogger(__name__)


def adapt_time_func(func: Callable[..., Any], plain_arity: int, what: str) -> Callable[..., Any]:
    """Accept ``func(rdd...)`` or ``func(time, rdd...)``; return a ``(time, rdd...)`` callable.

    PySpark's rule, read with ``inspect.signature`` so that partials, bound methods and callable
    objects work too: exactly ``plain_arity`` positional parameters is the form without the
    time; otherwise the time comes first (so ``lambda rdd, x=1: ...`` gets the time as ``rdd``,
    as in PySpark).

    >>> adapt_time_func(lambda rdd: rdd, 1, "foreachRDD")("t", "rdd")
    'rdd'
    >>> adapt_time_func(lambda t, rdd: t, 1, "foreachRDD")("t", "rdd")
    't'
    """
    if not callable(func):
        raise TypeError(f"{what} needs a function, got {type(func).__name__}")
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return func
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    if len(positional) == plain_arity:
        return lambda _time, *rdds: func(*rdds)
    if len(required) <= plain_arity + 1 and (len(positional) > plain_arity or varargs):
        return func
    raise TypeError(f"{what} takes a function of {plain_arity} argument(s) (rdd) or "
                    f"{plain_arity + 1} (time, rdd); {func!r} takes {len(positional)}")


class DStream(PairDStreamOperations, WindowOperations, StateOperations, EventTimeOperations,
              Generic[T]):
    """A discretized stream. Subclasses define ``compute(time_ms)``; everything users call is
    here and in the operation mixins.

    Generic in its element type, like ``RDD`` (and PySpark's ``DStream``), so annotations such
    as ``DStream[Tuple[float, str]]`` work at run time:

    >>> from typing import Tuple
    >>> DStream[Tuple[float, str]].__origin__ is DStream
    True
    """

    def __init__(self, ssc: StreamingContext, parents: list[DStream], op: str,
                 slide_ms: int | None = None) -> None:
        ssc._graph.check_can_define(op)
        self._ssc = ssc
        self._sc = ssc.sparkContext
        self.parents = parents
        self.slide_ms = slide_ms if slide_ms is not None else parents[0].slide_ms
        self.op = op
        self.call_site = user_call_site()
        self.zero_time_ms: int | None = None
        self.remember_ms: int | None = None
        self.storage_level = StorageLevel.NONE
        self.is_cached = False
        self.is_checkpointed = False
        self.checkpoint_ms: int | None = None
        self.must_checkpoint = False
        self.generated: dict[int, RDD] = {}
        self._user_named = False
        #: code of the user functions this operator runs (to name it when one of them fails)
        self.user_codes: tuple[CodeType, ...] = ()
        self._lock = threading.RLock()
        self.id = ssc._graph.register(self)

    def _user(self, *funcs: Callable[..., Any] | None) -> DStream:
        """Record the user functions this operator runs; returns ``self``."""
        self.user_codes += user_codes(funcs)
        return self

    # ------------------------------------------------------------------ identity
    def name(self, name: str | None = None) -> str:
        """This stream's id: the name given with ``setName``, else one made from its operator.

        >>> from dstream import Context, StreamingContext
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1)
        ...     ssc.queueStream([]).setName("numbers").map(str).name()
        'numbers.map'

        ``name("…")`` with an argument still sets the name, as it did before ``setName``
        existed, with a ``DeprecationWarning`` (it returns the stream then, not its name).
        """
        if name is None:
            return self.id
        warnings.warn("DStream.name(name) is deprecated: call DStream.setName(name) to set a "
                      "stream's name; name() returns it", DeprecationWarning, stacklevel=2)
        return self.setName(name)  # type: ignore[return-value]  # the deprecated setter form

    def setName(self, name: str) -> DStream[T]:
        """Give this stream a stable id of your own (used in logs, events and checkpoints);
        returns the stream.

        >>> from dstream import Context, StreamingContext
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1)
        ...     ssc.queueStream([]).setName("numbers").map(str).id
        'numbers.map'
        """
        self._ssc._graph.check_can_define("setName")
        self._ssc._graph.rename(self, name)
        self._user_named = True
        return self

    def context(self) -> StreamingContext:
        """The ``StreamingContext`` this stream belongs to.

        >>> from dstream import Context, StreamingContext
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1)
        ...     ssc.queueStream([]).context() is ssc
        True
        """
        return self._ssc

    @property
    def _slideDuration(self) -> float:
        return self.slide_ms / 1000

    def __repr__(self) -> str:
        return f"{type(self).__name__}[{self.id}] at {self.call_site}"

    # ------------------------------------------------------------------ lifecycle (graph)
    def _initialize(self, zero_time_ms: int) -> None:
        if self.zero_time_ms is not None:
            return
        self.zero_time_ms = zero_time_ms
        if self.must_checkpoint and self.checkpoint_ms is None:
            steps = -(-10_000 // self.slide_ms)
            self.checkpoint_ms = self.slide_ms * steps
        minimum = self.slide_ms
        if self.checkpoint_ms is not None and minimum <= self.checkpoint_ms:
            minimum = self.checkpoint_ms * 2
        if self.remember_ms is None or self.remember_ms < minimum:
            self.remember_ms = minimum
        for parent in self.parents:
            parent._initialize(zero_time_ms)

    def remember(self, duration: float) -> None:
        """Keep this stream's RDDs for at least ``duration`` seconds, so that ``slice`` can
        reach them (the stream keeps what its windows need anyway; like
        ``StreamingContext.remember``, in seconds).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     stream = ssc.queueStream([[1], [2], [3]]); stream.remember(5)
        ...     _ = run_batches(ssc, stream, 3)
        ...     [rdd.collect() for rdd in stream.slice(1, 3)]
        [[1], [2], [3]]
        """
        self._ssc._graph.check_can_define("remember")
        self._remember(check_duration(on(self, "remember"), "duration", duration))

    def _remember(self, duration_ms: int | None) -> None:
        if duration_ms is not None and (self.remember_ms is None or duration_ms > self.remember_ms):
            self.remember_ms = duration_ms
        for parent in self.parents:
            parent._remember(self._parent_remember_ms())

    def _parent_remember_ms(self) -> int | None:
        return self.remember_ms

    def _validate_at_start(self) -> None:
        """Stateful and checkpointed streams need the Context's checkpoint directory (set by
        ``ssc.checkpoint(dir)`` or ``ctx.setCheckpointDir(dir)``)."""
        if (self.must_checkpoint or self.is_checkpointed) and self._ssc._checkpoint_location_in_use() is None:
            why = "keeps state across batches" if self.must_checkpoint else "is checkpointed"
            raise ValueError(
                f"{self.id} ({self.op} at {self.call_site}) {why} and needs a checkpoint "
                "directory: call ssc.checkpoint(directory) before start()")
        for parent in self.parents:
            parent._validate_at_start()

    def _is_time_valid(self, time_ms: int) -> bool:
        zero = self.zero_time_ms
        return zero is not None and time_ms > zero and (time_ms - zero) % self.slide_ms == 0

    def _compute(self, time_ms: int) -> RDD | None:
        raise NotImplementedError(f"{type(self).__name__} does not define compute()")

    def _get_or_compute(self, time_ms: int) -> RDD | None:
        """This stream's RDD for batch ``time_ms`` (made once, then remembered), or None."""
        with self._lock:
            rdd = self.generated.get(time_ms)
            if rdd is not None or not self._is_time_valid(time_ms):
                return rdd
            with call_site_override(f"{self.call_site} ({self.id})"):
                rdd = self._compute(time_ms)
            if rdd is None:
                return None
            if self.storage_level != StorageLevel.NONE and not rdd.is_cached:
                rdd.persist(self.storage_level)
            if self.checkpoint_ms and (time_ms - self.zero_time_ms) % self.checkpoint_ms == 0:
                self._ssc._note_checkpoint_due(self, time_ms, rdd)
            self.generated[time_ms] = rdd
            return rdd

    def _clear_metadata(self, time_ms: int) -> None:
        """Forget (and unpersist) RDDs older than the remember duration before ``time_ms``."""
        with self._lock:
            old = [t for t in self.generated if t <= time_ms - (self.remember_ms or 0)]
            for t in old:
                rdd = self.generated.pop(t)
                # the same RDD may be this stream's at a later time too (a queue's default
                # RDD, a state unchanged by an empty batch): keep it cached for that one
                if rdd.is_cached and not any(r is rdd for r in self.generated.values()):
                    rdd.unpersist()
                self._on_forget(t, rdd)
        for parent in self.parents:
            parent._clear_metadata(time_ms)

    def _on_forget(self, time_ms: int, rdd: RDD) -> None:
        """Hook for streams that own resources per batch (e.g. received blocks)."""

    def slice(self, begin: Any, end: Any) -> list[RDD]:
        """The RDDs of the batches from ``begin`` to ``end`` (datetimes or epoch seconds).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     ssc.remember(10); stream = ssc.queueStream([[1], [2], [3]])
        ...     _ = run_batches(ssc, stream, 3)       # batches at 1 s, 2 s, 3 s on the manual clock
        ...     [rdd.collect() for rdd in stream.slice(2, 3)]
        [[2], [3]]
        """
        return self._slice_ms(_to_epoch_ms(begin), _to_epoch_ms(end))

    def _slice_ms(self, from_ms: int, to_ms_: int) -> list[RDD]:
        zero = self.zero_time_ms
        if zero is None:
            raise ValueError(f"{self.id} has not been initialized: start the StreamingContext first")
        to_aligned = to_ms_ - (to_ms_ - zero) % self.slide_ms
        from_aligned = from_ms - (from_ms - zero) % self.slide_ms
        rdds = []
        for t in range(from_aligned, to_aligned + 1, self.slide_ms):
            if t >= zero:
                rdd = self._get_or_compute(t)
                if rdd is not None:
                    rdds.append(rdd)
        return rdds

    # ------------------------------------------------------------------ persistence
    def persist(self, storageLevel: StorageLevel) -> DStream:
        """Keep each batch's RDD at ``storageLevel`` once computed (for streams used twice).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> from dstream import StorageLevel
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     doubled = ssc.queueStream([[1, 2]]).map(lambda x: 2 * x).persist(StorageLevel.MEMORY_AND_DISK)
        ...     run_batches(ssc, doubled, 1), doubled.storage_level == StorageLevel.MEMORY_AND_DISK
        ([[2, 4]], True)
        """
        self._ssc._graph.check_can_define("persist")
        self.is_cached = True
        self.storage_level = storageLevel
        return self

    def cache(self) -> DStream:
        """``persist(StorageLevel.MEMORY_ONLY)``.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     doubled = ssc.queueStream([[1, 2]]).map(lambda x: 2 * x).cache()
        ...     run_batches(ssc, doubled, 1), doubled.is_cached
        ([[2, 4]], True)
        """
        return self.persist(StorageLevel.MEMORY_ONLY)

    def checkpoint(self, interval: float) -> DStream:
        """Checkpoint this stream's RDDs every ``interval`` seconds (a multiple of the slide).
        Like Spark, this also persists the stream (if it is not already), so that writing the
        checkpoint reads the computed partitions instead of computing them again.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import tempfile
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     stream = ssc.queueStream([[1], [2]]).map(lambda x: x + 1).checkpoint(2)
        ...     run_batches(ssc, stream, 2), stream.checkpoint_ms
        ([[2], [3]], 2000)
        """
        self._ssc._graph.check_can_define("checkpoint")
        ms = check_duration(on(self, "checkpoint"), "interval", interval)
        check_multiple(ms, self.slide_ms, stream=on(self, "checkpoint"), what="interval",
                       unit_name="slide duration")
        if self.storage_level == StorageLevel.NONE:
            self.persist(StorageLevel.MEMORY_ONLY)
        self.is_checkpointed = True
        self.checkpoint_ms = ms
        return self

    # ------------------------------------------------------------------ transformations
    def transform(self, func: Callable[..., RDD]) -> DStream:
        """Apply ``func(rdd)`` or ``func(time, rdd)`` to each batch's RDD.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     stream = ssc.queueStream([[3, 1, 2]]).transform(lambda rdd: rdd.sortBy(lambda x: x))
        ...     run_batches(ssc, stream, 1)
        [[1, 2, 3]]
        """
        check_function(on(self, "transform"), "func", func)
        return TransformedDStream(self, adapt_time_func(func, 1, on(self, "transform")),
                                  "transform")._user(func)

    def transformWith(self, func: Callable[..., RDD], other: DStream,
                      keepSerializer: bool = False) -> DStream:
        """Apply ``func(rdd_a, rdd_b)`` or ``func(time, rdd_a, rdd_b)`` to this and ``other``.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     a, b = ssc.queueStream([[1, 2]]), ssc.queueStream([[2, 3]])
        ...     run_batches(ssc, a.transformWith(lambda x, y: x.intersection(y), b), 1)
        [[2]]
        """
        check_function(on(self, "transformWith"), "func", func)
        _check_same_slide(self, other, "transformWith")
        return TransformedWithDStream(self, other, adapt_time_func(func, 2, on(self, "transformWith")),
                                      "transformWith")._user(func)

    def _per_batch(self, op: str, func: Callable[[RDD], RDD]) -> DStream:
        """``func`` applied to each batch's RDD: the primitive of the pair operations."""
        return TransformedDStream(self, lambda _t, rdd: func(rdd), op)

    def _with_other(self, other: DStream, op: str, func: Callable[[RDD, RDD], RDD]) -> DStream:
        """``func`` applied to each batch's RDDs of this stream and ``other`` (same slide)."""
        _check_same_slide(self, other, op)
        return TransformedWithDStream(self, other, lambda _t, a, b: func(a, b), op)

    def _narrow(self, op: str, f: Callable[[int, Iterator], Iterable],
                preservesPartitioning: bool = False, user: Callable[..., Any] | None = None
                ) -> DStream:
        """A per-partition function over each batch; ``user`` is the user's own function."""
        return TransformedDStream(
            self, lambda _t, rdd: rdd.mapPartitionsWithIndex(f, preservesPartitioning), op)._user(user)

    def mapPartitionsWithIndex(self, f: Callable[[int, Iterator[T]], Iterable[U]],
                               preservesPartitioning: bool = False) -> DStream:
        """``f(partition index, iterator)`` over each partition of each batch.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     stream = ssc.queueStream([ctx.parallelize([1, 2, 3, 4], 2)])
        ...     run_batches(ssc, stream.mapPartitionsWithIndex(lambda i, it: [(i, sum(it))]), 1)
        [[(0, 3), (1, 7)]]
        """
        check_function(on(self, "mapPartitionsWithIndex"), "f", f, 2)
        return self._narrow("mapPartitionsWithIndex", f, preservesPartitioning, f)

    def mapPartitions(self, f: Callable[[Iterator[T]], Iterable[U]],
                      preservesPartitioning: bool = False) -> DStream:
        """``f(iterator)`` over each partition of each batch.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     stream = ssc.queueStream([ctx.parallelize([1, 2, 3, 4], 2)])
        ...     run_batches(ssc, stream.mapPartitions(lambda it: [sum(it)]), 1)
        [[3, 7]]
        """
        check_function(on(self, "mapPartitions"), "f", f, 1)
        return self._narrow("mapPartitions", lambda _, it: f(it), preservesPartitioning, f)

    def map(self, f: Callable[[T], U], preservesPartitioning: bool = False) -> DStream:
        """``f`` applied to every record.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     run_batches(ssc, ssc.queueStream([[1, 2], [3]]).map(lambda x: x * 10), 2)
        [[10, 20], [30]]
        """
        check_function(on(self, "map"), "f", f, 1)
        return self._narrow("map", lambda _, it: map(f, it), preservesPartitioning, f)

    def flatMap(self, f: Callable[[T], Iterable[U]], preservesPartitioning: bool = False) -> DStream:
        """Every record of the iterables ``f`` returns.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     run_batches(ssc, ssc.queueStream([["a b", "c"], ["d"]]).flatMap(str.split), 2)
        [['a', 'b', 'c'], ['d']]
        """
        check_function(on(self, "flatMap"), "f", f, 1)
        return self._narrow("flatMap", lambda _, it: itertools.chain.from_iterable(map(f, it)),
                            preservesPartitioning, f)

    def filter(self, f: Callable[[T], bool]) -> DStream:
        """The records for which ``f`` is true.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     run_batches(ssc, ssc.queueStream([[1, 2, 3], [4]]).filter(lambda x: x % 2), 2)
        [[1, 3], []]
        """
        check_function(on(self, "filter"), "f", f, 1)
        return self._narrow("filter", lambda _, it: filter(f, it), True, f)

    def glom(self) -> DStream:
        """Each partition as one list.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     stream = ssc.queueStream([ctx.parallelize([1, 2, 3], 2)])
        ...     run_batches(ssc, stream.glom(), 1)
        [[[1], [2, 3]]]
        """
        return self._narrow("glom", lambda _, it: [list(it)])

    def count(self) -> DStream:
        """One element per batch: the number of records in it.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     run_batches(ssc, ssc.queueStream([[1, 2, 3], ["a"], []]).count(), 3)
        [[3], [1], [0]]
        """
        return (self._narrow("count", lambda _, it: [sum(1 for _ in it)])
                .reduce(operator.add))

    def countByValue(self) -> DStream:
        """``(value, count)`` for every distinct record of each batch.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     counts = ssc.queueStream([["a", "b", "a"]]).countByValue()
        ...     [sorted(batch) for batch in run_batches(ssc, counts, 1)]
        [[('a', 2), ('b', 1)]]
        """
        return self.map(lambda x: (x, 1)).reduceByKey(operator.add)

    def reduce(self, func: Callable[[T, T], T]) -> DStream:
        """One element per non-empty batch: its records reduced with ``func``.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import operator
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     run_batches(ssc, ssc.queueStream([[1, 2, 3], [4], []]).reduce(operator.add), 3)
        [[6], [4], []]
        """
        check_function(on(self, "reduce"), "func", func, 2)
        return (self.map(lambda x: (None, x)).reduceByKey(func, 1)
                .map(lambda kv: kv[1]))

    def repartition(self, numPartitions: int) -> DStream:
        """Each batch reshuffled into exactly ``numPartitions`` partitions.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     stream = ssc.queueStream([[1, 2, 3, 4]]).repartition(3)
        ...     run_batches(ssc, stream.glom().count(), 1)
        [[3]]
        """
        if isinstance(numPartitions, bool) or not isinstance(numPartitions, int) or numPartitions < 1:
            raise ValueError(f"{on(self, 'repartition')}: numPartitions must be an int >= 1, "
                             f"got {numPartitions!r}")
        return TransformedDStream(self, lambda _t, rdd: rdd.repartition(numPartitions), "repartition")

    def union(self, other: DStream) -> DStream:
        """The records of this stream and ``other`` (same slide duration), batch by batch.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     a, b = ssc.queueStream([[1], [2]]), ssc.queueStream([[10], [20]])
        ...     run_batches(ssc, a.union(b), 2)
        [[1, 10], [2, 20]]
        """
        _check_same_slide(self, other, "union")
        return self._ssc.union(self, other)

    # ------------------------------------------------------------------ outputs
    def foreachRDD(self, func: Callable[..., None]) -> None:
        """Run ``func(rdd)`` or ``func(time, rdd)`` for every batch (an output operation).
        A ``func`` with a ``close()`` method (a sink) is closed when the context stops.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import advance_batch
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     ssc.queueStream([[1, 2], [3]]).foreachRDD(lambda rdd: print(rdd.collect()))
        ...     ssc.start(); _ = advance_batch(ssc), advance_batch(ssc); ssc.stop(False)
        [1, 2]
        [3]
        """
        check_function(on(self, "foreachRDD"), "func", func)
        out = ForEachDStream(self, adapt_time_func(func, 1, on(self, "foreachRDD")), "foreachRDD")._user(func)
        if callable(getattr(func, "close", None)):
            out.closers.append(func.close)

    def pprint(self, num: int = 10) -> None:
        """Print the first ``num`` records of every batch, under a header with its time.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import advance_batch
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     ssc.queueStream([[1, 2, 3]]).pprint(2)
        ...     ssc.start(); _ = advance_batch(ssc); ssc.stop(False)
        -------------------------------------------
        Time: ...
        -------------------------------------------
        1
        2
        ...
        <BLANKLINE>
        """
        if not isinstance(num, int) or num < 0:
            raise ValueError(f"pprint needs num as an int >= 0, got {num!r}")

        def take_and_print(time: Any, rdd: RDD) -> None:
            taken = rdd.take(num + 1)
            lines = ["-------------------------------------------", f"Time: {time}",
                     "-------------------------------------------"]
            lines.extend(str(record) for record in taken[:num])
            if len(taken) > num:
                lines.append("...")
            print("\n".join(lines) + "\n", flush=True)

        ForEachDStream(self, take_and_print, "pprint")

    def saveAsTextFiles(self, prefix: str, suffix: str | None = None, *,
                        skipEmpty: bool = False) -> None:
        """Each batch into directory ``prefix-<batch time in ms>[.suffix]`` (``part-NNNNN``
        files and ``_SUCCESS``), written under a hidden name and renamed into place whole: a
        batch re-run after a crash replaces its directory with the same content, and a reader
        never sees a partial batch. ``skipEmpty=True`` writes no directory for an empty batch.

        >>> import os, tempfile
        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import advance_batch
        >>> out = tempfile.mkdtemp()
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     ssc.queueStream([["a"], []]).saveAsTextFiles(os.path.join(out, "w"), skipEmpty=True)
        ...     ssc.start(); _ = advance_batch(ssc), advance_batch(ssc); ssc.stop(False)
        >>> os.listdir(out)
        ['w-1000']
        """

        if not isinstance(skipEmpty, bool):
            raise TypeError(f"saveAsTextFiles: skipEmpty must be True or False, got {skipEmpty!r}")

        def save(time: Any, rdd: RDD) -> None:
            path = f"{prefix}-{_epoch_ms(time)}" + (f".{suffix}" if suffix is not None else "")
            save_batch_as_text_files(rdd, path, skip_empty=skipEmpty)

        ForEachDStream(self, save, "saveAsTextFiles")

    def saveToKafka(self, bootstrapServers: str | list[str], topic: str,
                    kafkaParams: dict[str, Any] | None = None, *,
                    transactionalId: str | None = None,
                    keySerializer: Callable[[Any], bytes | None] | None = None,
                    valueSerializer: Callable[[Any], bytes | None] | None = None) -> None:
        """Write each batch to ``topic`` in one Kafka transaction, exactly once across crashes
        and restarts (``dstream.streaming.sinks.kafka_sink``): ``(key, value)`` records (any
        other record is a value without key), str as UTF-8, other values as their ``str()``.
        The Kafka offsets the batch consumed are committed in the same transaction. The
        transactional id is ``transactionalId`` or ``<appName>/<output stream id>``.

        >>> from dstream import Context, StreamingContext
        >>> with Context("local", "wordcount") as ctx:
        ...     ssc = StreamingContext(ctx, 1)
        ...     ssc.queueStream([]).saveToKafka("127.0.0.1:9092", "totals")
        ...     ssc._graph.outputs[0].func.transactional_id
        'wordcount/queueStream-0.saveToKafka'
        """

        check_function(on(self, "saveToKafka"), "keySerializer", keySerializer, 1, optional=True)
        check_function(on(self, "saveToKafka"), "valueSerializer", valueSerializer, 1, optional=True)
        sink = KafkaSink(bootstrapServers, topic, transactionalId or "unnamed", kafkaParams,
                         keySerializer or to_bytes, valueSerializer or to_bytes, inputs=[self])
        out = ForEachDStream(self, sink, "saveToKafka")
        out.closers.append(sink.close)
        if transactionalId is None:
            sink.set_transactional_id(f"{self._sc.appName}/{out.id}")

    def saveToRedis(self, url: str, keyPrefix: str = "", *, name: str | None = None) -> None:
        """``SET`` each batch's ``(key, value)`` records in Redis together with a "last batch
        written" marker, in one MULTI/EXEC: a batch replayed after a crash is skipped
        (``dstream.streaming.sinks.redis_sink``). The marker is named by ``name`` or
        ``<appName>/<output stream id>``.

        >>> from dstream import Context, StreamingContext
        >>> with Context("local", "wordcount") as ctx:
        ...     ssc = StreamingContext(ctx, 1)
        ...     ssc.queueStream([]).saveToRedis("redis://127.0.0.1:6379/0", "count:")
        ...     ssc._graph.outputs[0].func.marker_key
        'dstream:sink:wordcount/queueStream-0.saveToRedis:last-batch-ms'
        """

        sink = RedisSink(url, name or "unnamed", keyPrefix)
        out = ForEachDStream(self, sink, "saveToRedis")
        out.closers.append(sink.close)
        if name is None:
            sink.set_name(f"{self._sc.appName}/{out.id}")


class TransformedDStream(DStream):
    """``func(time, rdd)`` over the parent; consecutive ones fold into one function."""

    def __init__(self, prev: DStream, func: Callable[[Any, RDD], RDD], op: str) -> None:
        if isinstance(prev, TransformedDStream) and not (prev.is_cached or prev.is_checkpointed):
            prev_func = prev.func
            self.func = lambda t, rdd: func(t, prev_func(t, rdd))
            self.prev = prev.prev
            self.chain = f"{prev.chain}.{op}"
        else:
            self.func = func
            self.prev = prev
            self.chain = op
        super().__init__(prev._ssc, [self.prev], op)

    def _compute(self, time_ms: int) -> RDD | None:
        rdd = self.prev._get_or_compute(time_ms)
        if rdd is None:
            return None
        result = self.func(batch_datetime(time_ms), rdd)
        return _checked_rdd(result, self)


class TransformedWithDStream(DStream):
    """``func(time, rdd_a, rdd_b)`` over two streams with the same slide (a parent without an
    RDD at that time gives an empty one, as in PySpark)."""

    def __init__(self, a: DStream, b: DStream, func: Callable[[Any, RDD, RDD], RDD], op: str) -> None:
        self.func = func
        super().__init__(a._ssc, [a, b], op)

    def _compute(self, time_ms: int) -> RDD | None:
        a, b = (p._get_or_compute(time_ms) or self._sc.emptyRDD() for p in self.parents)
        return _checked_rdd(self.func(batch_datetime(time_ms), a, b), self)


class MultiTransformedDStream(DStream):
    """``func(time, rdds)`` over several streams (``StreamingContext.transform``); ``rdds`` is
    a tuple in the order of the streams."""

    def __init__(self, ssc: StreamingContext, parents: list[DStream],
                 func: Callable[[Any, list[RDD]], RDD], op: str) -> None:
        self.func = func
        super().__init__(ssc, parents, op)

    def _compute(self, time_ms: int) -> RDD | None:
        rdds = tuple(_parent_rdd(p, time_ms, self) for p in self.parents)
        return _checked_rdd(self.func(batch_datetime(time_ms), rdds), self)


class UnionDStream(DStream):
    def __init__(self, ssc: StreamingContext, parents: list[DStream]) -> None:
        super().__init__(ssc, parents, "union")

    def _compute(self, time_ms: int) -> RDD | None:
        return self._sc.union([_parent_rdd(p, time_ms, self) for p in self.parents])


class ForEachDStream(DStream):
    """An output operation: ``func(time, rdd)`` runs as a job every batch."""

    def __init__(self, parent: DStream, func: Callable[[Any, RDD], None], op: str) -> None:
        self.func = func
        #: what to close when the context stops (a sink's producer or connection)
        self.closers: list[Callable[[], None]] = []
        super().__init__(parent._ssc, [parent], op)
        self._ssc._graph.add_output(self)

    def _compute(self, time_ms: int) -> RDD | None:
        return self.parents[0]._get_or_compute(time_ms)

    def _generate_job(self, time_ms: int) -> Callable[[], None] | None:
        """The batch's job, or None when the parent has no RDD at this time."""
        rdd = self.parents[0]._get_or_compute(time_ms)
        if rdd is None:
            return None
        when = batch_datetime(time_ms)
        return lambda: self.func(when, rdd)


def _parent_rdd(parent: DStream, time_ms: int, child: DStream) -> RDD:
    """The parent's RDD at ``time_ms``; a stream over several parents needs every one."""
    rdd = parent._get_or_compute(time_ms)
    if rdd is None:
        raise ValueError(f"{child.id}: {parent.id} generated no RDD for the batch of "
                         f"{batch_datetime(time_ms)} ({time_ms} ms), so {child.op} cannot combine it")
    return rdd


def _checked_rdd(result: Any, stream: DStream) -> RDD | None:
    if result is None or isinstance(result, RDD):
        return result
    raise TypeError(f"{stream.id} ({stream.op} at {stream.call_site}): the function must return "
                    f"an RDD, got {type(result).__name__}")


def _check_same_slide(a: DStream, b: DStream, op: str) -> None:
    if not isinstance(b, DStream):
        raise TypeError(f"{op} takes a DStream, got {type(b).__name__}")
    if a.slide_ms != b.slide_ms:
        raise ValueError(f"{op}: {a.id} slides every {a.slide_ms / 1000:g} s but {b.id} every "
                         f"{b.slide_ms / 1000:g} s; the two DStreams must have the same slide duration")


def _epoch_ms(time: Any) -> int:
    if hasattr(time, "timestamp"):
        return int(round(time.timestamp() * 1000))
    return int(time)


def _to_epoch_ms(value: Any) -> int:
    if hasattr(value, "timestamp"):
        return int(round(value.timestamp() * 1000))
    return int(round(float(value) * 1000))

