"""DStream: a sequence of RDDs, one per batch, and PySpark's operators on it.

Every operator is a transformation of each batch's RDD; narrow ones are ``transform``s,
and consecutive ``transform``s fold into one function, as in PySpark.

The streams the operators return (windows, state, event time) are defined here too, since an
operator needs the class it builds and every one of them is a ``DStream``. They are thin: the
per-batch work is below, on RDDs, in ``windowed.py``, ``stateful.py`` and the ``event_*``
modules, which do not know ``DStream``.

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
from datetime import datetime
from types import CodeType
from typing import (TYPE_CHECKING, Any, Callable, Generic, Hashable, Iterable, Iterator, Protocol,
                    TypeVar, cast, overload)

from ..accumulators import Accumulator
from ..aggregation import ResultIterable
from ..callsite import call_site_override, user_call_site
from ..hashing import portable_hash
from ..partitioner import Partitioner
from ..rdd import RDD, ShuffledRDD
from ..storagelevel import StorageLevel
from .arguments import check_duration, check_function, on
from .checkpointing import CheckpointManager, DataSnapshot
from .durations import batch_datetime, check_multiple
from .event_chunks import (Chunk, ChunkStep, _record_of, filter_step, flat_map_step,
                           flat_map_values_step, map_step, map_values_step, pairs_of, stamp_chunks,
                           then, unzip_chunks)
from .event_state import (EventRoute, EventStateRDD, KeyedState, PreAggregateRDD, Stats, StatsParam,
                          Strategy)
from .event_time import EventTimeSpec, Watermark, duration_ms
from .event_windows import MODES, Aggregation, FinalWindows, Windows
from .failures import user_codes
from .clock import Clock
from .listener import EventTimeInfo, ListenerBus, StreamingListener
from .scheduler import JobScheduler, JobSet
from .sessions import Sessions
from .sinks.kafka_sink import KafkaSink, to_bytes
from .sinks.redis_sink import RedisSink
from .sinks.text_files import save_batch_as_text_files
from .state_checkpoints import capture_incremental, snapshot_every
from .stateful import (MapWithStateRDD, StateSpec, StateUpdateRDD, _mapped_of, _StateRecord,
                       _states_of)
from .windowed import INVERSE_MIN_SLIDES, concat, drop_prefix, next_window

if TYPE_CHECKING:
    from typing import BinaryIO

    from dstream.receivers import Receiver

    from ..context import Context

__all__ = ["DStream", "StreamingContextLike", "StreamRegistry", "TransformedDStream",
           "TransformedWithDStream", "ForEachDStream", "adapt_time_func",
           "WindowedDStream", "ReducedWindowedDStream", "StateDStream", "MapWithStateDStream",
           "StampedDStream", "EventTimeDStream", "EventStateDStream", "EventWindowDStream"]

T = TypeVar("T")
U = TypeVar("U")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
W = TypeVar("W")
#: combineByKey's combined value
C = TypeVar("C")
#: a key's state (updateStateByKey, mapWithState)
S = TypeVar("S")
#: the records of a method that calls a pair operation on pairs of them (``reduce``): typed
#: ``self: DStream[X]``, since mypy binds the class's own ``T`` twice in such a call
X = TypeVar("X")
#: ``self``'s own type, for the methods that return ``self``
D = TypeVar("D", bound="DStream[Any]")
#: an event-time stream's own type, for ``setName``
E = TypeVar("E", bound="EventTimeDStream[Any]")
#: the records of an event-time window operator: ``((key, windowStart, windowEnd), value)``;
#: ``R``: the records it reads (and its ``lateRecords()``)
R = TypeVar("R")
#: an event-time window operator's own type, for ``checkpoint`` and ``setName``
EW = TypeVar("EW", bound="EventWindowDStream[Any, Any]")
#: an event-time window's key: ``(key, windowStart, windowEnd)``
WindowKey = tuple[K, datetime, datetime]
#: reads a partition's records as stamped chunks
ChunkReader = Callable[[Iterator[Any]], Iterator[Chunk]]

log = logging.getLogger(__name__)


class StreamRegistry(Protocol):
    """Where streams are registered and named: the context's ``DStreamGraph``."""

    def check_can_define(self, op: str) -> None: ...
    def register(self, stream: DStream[Any]) -> str: ...
    def rename(self, stream: DStream[Any], name: str) -> None: ...
    def add_output(self, stream: ForEachDStream[Any]) -> None: ...
    def input_index(self, stream: DStream[Any]) -> int: ...


class StreamingContextLike(Protocol):
    """A ``StreamingContext`` as its streams see it: the public API (what
    ``DStream.context()`` gives), and the parts of the running context a stream uses.

    The streams are below the context (it makes them), so they name it by this protocol;
    ``StreamingContext`` implements it, which mypy checks wherever a stream is made.
    """

    @property
    def sparkContext(self) -> Context: ...
    @property
    def batch_duration_ms(self) -> int: ...
    def getState(self) -> str: ...
    def remember(self, duration: float) -> None: ...
    def checkpoint(self, directory: str) -> None: ...
    def addStreamingListener(self, streamingListener: StreamingListener) -> None: ...
    def removeStreamingListener(self, streamingListener: StreamingListener) -> None: ...
    def queueStream(self, rdds: Iterable[RDD[T] | Iterable[T]], oneAtATime: bool = True,
                    default: RDD[T] | Iterable[T] | None = None) -> DStream[T]: ...
    def receiverStream(self, receiver: Receiver) -> DStream[Any]: ...
    def socketTextStream(self, hostname: str, port: int,
                         storageLevel: StorageLevel = ...) -> DStream[str]: ...
    def socketStream(self, hostname: str, port: int, converter: Callable[[BinaryIO], Iterable[T]],
                     storageLevel: StorageLevel = ...) -> DStream[T]: ...
    def textFileStream(self, directory: str) -> DStream[str]: ...
    def fileStream(self, directory: str, filter: Callable[[str], bool] | None = None,  # noqa: A002
                   newFilesOnly: bool = True) -> DStream[str]: ...
    def binaryRecordsStream(self, directory: str, recordLength: int) -> DStream[bytes]: ...
    def union(self, *dstreams: DStream[T]) -> DStream[T]: ...
    @overload
    def transform(self, dstreams: Iterable[DStream[Any]],
                  transformFunc: Callable[[tuple[RDD[Any], ...]], RDD[U]]) -> DStream[U]: ...
    @overload
    def transform(self, dstreams: Iterable[DStream[Any]],
                  transformFunc: Callable[[datetime, tuple[RDD[Any], ...]], RDD[U]]) -> DStream[U]: ...
    def start(self) -> None: ...
    def checkpointHealth(self) -> dict[str, Any] | None: ...
    def stop(self, stopSparkContext: bool = True, stopGraceFully: bool = False) -> None: ...
    def stop_phases(self, stopGraceFully: bool = True) -> list[tuple[str, Callable[[], None]]]: ...
    def awaitTermination(self, timeout: float | None = None) -> None: ...
    def awaitTerminationOrTimeout(self, timeout: float | None) -> bool: ...

    # what the streams use of the running context
    @property
    def _batch_ms(self) -> int: ...
    @property
    def _graph(self) -> StreamRegistry: ...
    @property
    def _bus(self) -> ListenerBus: ...
    @property
    def _clock(self) -> Clock: ...
    @property
    def _scheduler(self) -> JobScheduler: ...
    def _checkpoint_location_in_use(self) -> str | None: ...
    def _note_checkpoint_due(self, stream: DStream[T], time_ms: int, rdd: RDD[T]) -> None: ...


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


class DStream(Generic[T]):
    """A discretized stream. Subclasses define ``compute(time_ms)``; everything users call is
    here (``withEventTime`` comes from ``EventTimeOperations``).

    The operators on ``(key, value)`` pairs annotate ``self`` as the stream they work on
    (``self: DStream[tuple[K, V]]``, as PySpark does), so calling one on a stream of other
    records is a type error.

    Generic in its element type, like ``RDD`` (and PySpark's ``DStream``), so annotations such
    as ``DStream[Tuple[float, str]]`` work at run time:

    >>> from typing import Tuple
    >>> DStream[Tuple[float, str]].__origin__ is DStream
    True
    """

    def __init__(self, ssc: StreamingContextLike, parents: list[DStream[Any]], op: str,
                 slide_ms: int | None = None) -> None:
        ssc._graph.check_can_define(op)
        self._ssc = ssc
        self._sc = ssc.sparkContext
        self.parents = parents
        self.slide_ms: int = slide_ms if slide_ms is not None else parents[0].slide_ms
        self.op = op
        self.call_site = user_call_site()
        self.zero_time_ms: int | None = None
        self.remember_ms: int | None = None
        self.storage_level = StorageLevel.NONE
        self.is_cached = False
        self.is_checkpointed = False
        self.checkpoint_ms: int | None = None
        self.must_checkpoint = False
        self.generated: dict[int, RDD[T]] = {}
        self._user_named = False
        #: code of the user functions this operator runs (to name it when one of them fails)
        self.user_codes: tuple[CodeType, ...] = ()
        self._lock = threading.RLock()
        self.id = ssc._graph.register(self)

    def _user(self: D, *funcs: Callable[..., Any] | None) -> D:
        """Record the user functions this operator runs; returns ``self``."""
        self.user_codes += user_codes(funcs)
        return self

    # ------------------------------------------------------------------ identity
    @overload
    def name(self) -> str: ...
    @overload
    def name(self: D, name: str) -> D: ...

    def name(self: D, name: str | None = None) -> str | D:
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
        return self.setName(name)

    def setName(self: D, name: str) -> D:
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

    def context(self) -> StreamingContextLike:
        """The ``StreamingContext`` this stream belongs to (typed by its protocol,
        ``StreamingContextLike``: every public method of the context is there).

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

    def _compute(self, time_ms: int) -> RDD[T] | None:
        raise NotImplementedError(f"{type(self).__name__} does not define compute()")

    def _get_or_compute(self, time_ms: int) -> RDD[T] | None:
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
            assert self.zero_time_ms is not None  # is_time_valid(time_ms) needs it
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

    def _on_forget(self, time_ms: int, rdd: RDD[T]) -> None:
        """Hook for streams that own resources per batch (e.g. received blocks)."""

    def slice(self, begin: datetime | float, end: datetime | float) -> list[RDD[T]]:
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

    def _slice_ms(self, from_ms: int, to_ms_: int) -> list[RDD[T]]:
        zero = self.zero_time_ms
        if zero is None:
            raise ValueError(f"{self.id} has not been initialized: start the StreamingContext first")
        to_aligned = to_ms_ - (to_ms_ - zero) % self.slide_ms
        from_aligned = from_ms - (from_ms - zero) % self.slide_ms
        rdds: list[RDD[T]] = []
        for t in range(from_aligned, to_aligned + 1, self.slide_ms):
            if t >= zero:
                rdd = self._get_or_compute(t)
                if rdd is not None:
                    rdds.append(rdd)
        return rdds

    # ------------------------------------------------------------------ persistence
    def persist(self: D, storageLevel: StorageLevel) -> D:
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

    def cache(self: D) -> D:
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

    def checkpoint(self: D, interval: float) -> D:
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
    @overload
    def transform(self, func: Callable[[RDD[T]], RDD[U]]) -> DStream[U]: ...
    @overload
    def transform(self, func: Callable[[datetime, RDD[T]], RDD[U]]) -> DStream[U]: ...

    def transform(self, func: Callable[..., RDD[U]]) -> DStream[U]:
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

    @overload
    def transformWith(self, func: Callable[[RDD[T], RDD[W]], RDD[U]], other: DStream[W],
                      keepSerializer: bool = False) -> DStream[U]: ...
    @overload
    def transformWith(self, func: Callable[[datetime, RDD[T], RDD[W]], RDD[U]], other: DStream[W],
                      keepSerializer: bool = False) -> DStream[U]: ...

    def transformWith(self, func: Callable[..., RDD[U]], other: DStream[W],
                      keepSerializer: bool = False) -> DStream[U]:
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

    def _per_batch(self, op: str, func: Callable[[RDD[T]], RDD[U]]) -> DStream[U]:
        """``func`` applied to each batch's RDD: the primitive of the pair operations."""
        return TransformedDStream(self, lambda _t, rdd: func(rdd), op)

    def _with_other(self, other: DStream[W], op: str,
                    func: Callable[[RDD[T], RDD[W]], RDD[U]]) -> DStream[U]:
        """``func`` applied to each batch's RDDs of this stream and ``other`` (same slide)."""
        _check_same_slide(self, other, op)
        return TransformedWithDStream(self, other, lambda _t, a, b: func(a, b), op)

    def _narrow(self, op: str, f: Callable[[int, Iterator[T]], Iterable[U]],
                preservesPartitioning: bool = False, user: Callable[..., Any] | None = None
                ) -> DStream[U]:
        """A per-partition function over each batch; ``user`` is the user's own function."""
        return TransformedDStream(
            self, lambda _t, rdd: rdd.mapPartitionsWithIndex(f, preservesPartitioning), op)._user(user)

    def mapPartitionsWithIndex(self, f: Callable[[int, Iterator[T]], Iterable[U]],
                               preservesPartitioning: bool = False) -> DStream[U]:
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
                      preservesPartitioning: bool = False) -> DStream[U]:
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

    def map(self, f: Callable[[T], U], preservesPartitioning: bool = False) -> DStream[U]:
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

    def flatMap(self, f: Callable[[T], Iterable[U]], preservesPartitioning: bool = False
                ) -> DStream[U]:
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

    def filter(self, f: Callable[[T], bool]) -> DStream[T]:
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

    def glom(self) -> DStream[list[T]]:
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

    def count(self) -> DStream[int]:
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

    def countByValue(self: DStream[K]) -> DStream[tuple[K, int]]:
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

    def reduce(self: DStream[X], func: Callable[[X, X], X]) -> DStream[X]:
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

    def repartition(self, numPartitions: int) -> DStream[T]:
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

    def union(self, other: DStream[U]) -> DStream[T | U]:
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
        # DStream is invariant in its element type: either side is a stream of T | U
        return self._ssc.union(cast("DStream[T | U]", self), cast("DStream[T | U]", other))

    # ------------------------------------------------------------------ (key, value) pairs
    def _partitions(self, numPartitions: int | None) -> int:
        if numPartitions is None:
            return self._sc.defaultParallelism
        if not isinstance(numPartitions, int) or numPartitions < 1:
            raise ValueError(f"{self.id}: numPartitions must be an int >= 1, got {numPartitions!r}")
        return numPartitions

    def mapValues(self: DStream[tuple[K, V]],
                  f: Callable[[V], U]) -> DStream[tuple[K, U]]:
        """``f`` applied to the value of every ``(key, value)`` record.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     pairs = ssc.queueStream([[("a", 1), ("b", 2)]])
        ...     run_batches(ssc, pairs.mapValues(lambda v: v * 10), 1)
        [[('a', 10), ('b', 20)]]
        """
        check_function(on(self, "mapValues"), "f", f, 1)
        return self._narrow("mapValues", lambda _, it: ((kv[0], f(kv[1])) for kv in it), True, f)

    def flatMapValues(self: DStream[tuple[K, V]],
                      f: Callable[[V], Iterable[U]]) -> DStream[tuple[K, U]]:
        """``(key, x)`` for every ``x`` of the iterable ``f(value)`` returns.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     pairs = ssc.queueStream([[("a", "x y"), ("b", "z")]])
        ...     run_batches(ssc, pairs.flatMapValues(str.split), 1)
        [[('a', 'x'), ('a', 'y'), ('b', 'z')]]
        """
        check_function(on(self, "flatMapValues"), "f", f, 1)
        return self._narrow("flatMapValues",
                            lambda _, it: ((kv[0], x) for kv in it for x in f(kv[1])), True, f)

    def combineByKey(self: DStream[tuple[K, V]],
                     createCombiner: Callable[[V], C],
                     mergeValue: Callable[[C, V], C], mergeCombiners: Callable[[C, C], C],
                     numPartitions: int | None = None) -> DStream[tuple[K, C]]:
        """Each batch's values combined per key (the general form of ``reduceByKey``).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     pairs = ssc.queueStream([[("a", 1), ("b", 2), ("a", 3)]])
        ...     lists = pairs.combineByKey(lambda v: [v], lambda c, v: c + [v], lambda c, d: c + d)
        ...     [sorted(batch) for batch in run_batches(ssc, lists, 1)]
        [[('a', [1, 3]), ('b', [2])]]
        """
        for name, func, arity in (("createCombiner", createCombiner, 1), ("mergeValue", mergeValue, 2),
                                  ("mergeCombiners", mergeCombiners, 2)):
            check_function(on(self, "combineByKey"), name, func, arity)
        n = self._partitions(numPartitions)
        return self._per_batch("combineByKey", lambda rdd: rdd.combineByKey(
            createCombiner, mergeValue, mergeCombiners, n))._user(createCombiner, mergeValue,
                                                                 mergeCombiners)

    def reduceByKey(self: DStream[tuple[K, V]],
                    func: Callable[[V, V], V],
                    numPartitions: int | None = None) -> DStream[tuple[K, V]]:
        """Each batch's values merged per key with ``func``.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import operator
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     pairs = ssc.queueStream([[("a", 1), ("b", 1), ("a", 1)], [("b", 5)]])
        ...     [sorted(batch) for batch in run_batches(ssc, pairs.reduceByKey(operator.add), 2)]
        [[('a', 2), ('b', 1)], [('b', 5)]]
        """
        check_function(on(self, "reduceByKey"), "func", func, 2)
        n = self._partitions(numPartitions)
        return self._per_batch("reduceByKey", lambda rdd: rdd.reduceByKey(func, n))._user(func)

    def groupByKey(self: DStream[tuple[K, V]],
                   numPartitions: int | None = None
                   ) -> DStream[tuple[K, ResultIterable[V]]]:
        """Each batch's values grouped per key (as an iterable).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     pairs = ssc.queueStream([[("a", 1), ("b", 2), ("a", 3)]])
        ...     grouped = pairs.groupByKey().mapValues(sorted)
        ...     [sorted(batch) for batch in run_batches(ssc, grouped, 1)]
        [[('a', [1, 3]), ('b', [2])]]
        """
        n = self._partitions(numPartitions)
        return self._per_batch("groupByKey", lambda rdd: rdd.groupByKey(n))

    def partitionBy(self: DStream[tuple[K, V]], numPartitions: int,
                    partitionFunc: Callable[[K], int] | None = None) -> DStream[tuple[K, V]]:
        """Each batch hash-partitioned by key into ``numPartitions`` (``partitionFunc(key)``
        modulo ``numPartitions``).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     pairs = ssc.queueStream([[(1, "a"), (2, "b"), (3, "c")]])
        ...     run_batches(ssc, pairs.partitionBy(2).glom(), 1)
        [[[(2, 'b')], [(1, 'a'), (3, 'c')]]]
        """
        check_function(on(self, "partitionBy"), "partitionFunc", partitionFunc, 1, optional=True)
        n = self._partitions(numPartitions)
        return self._per_batch("partitionBy",
                               lambda rdd: rdd.partitionBy(n, partitionFunc))._user(partitionFunc)

    def cogroup(self: DStream[tuple[K, V]],
                other: DStream[tuple[K, W]],
                numPartitions: int | None = None
                ) -> DStream[tuple[K, tuple[ResultIterable[V], ResultIterable[W]]]]:
        """For every key of either stream, ``(key, (values here, values in other))`` per batch.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     a, b = ssc.queueStream([[("a", 1)]]), ssc.queueStream([[("a", 2), ("b", 3)]])
        ...     grouped = a.cogroup(b).mapValues(lambda vs: tuple(map(list, vs)))
        ...     [sorted(batch) for batch in run_batches(ssc, grouped, 1)]
        [[('a', ([1], [2])), ('b', ([], [3]))]]
        """
        n = self._partitions(numPartitions)
        return self._with_other(other, "cogroup", lambda a, b: a.cogroup(b, n))

    def join(self: DStream[tuple[K, V]], other: DStream[tuple[K, W]],
             numPartitions: int | None = None) -> DStream[tuple[K, tuple[V, W]]]:
        """``(key, (v, w))`` for every pair of values of a key present in both streams' batch.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     a, b = ssc.queueStream([[("a", 1), ("b", 2)]]), ssc.queueStream([[("a", "x")]])
        ...     run_batches(ssc, a.join(b), 1)
        [[('a', (1, 'x'))]]
        """
        n = self._partitions(numPartitions)
        return self._with_other(other, "join", lambda a, b: a.join(b, n))

    def leftOuterJoin(self: DStream[tuple[K, V]],
                      other: DStream[tuple[K, W]],
                      numPartitions: int | None = None) -> DStream[tuple[K, tuple[V, W | None]]]:
        """Like ``join``, keeping this stream's keys missing from ``other`` with None.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     a, b = ssc.queueStream([[("a", 1), ("b", 2)]]), ssc.queueStream([[("a", "x")]])
        ...     [sorted(batch) for batch in run_batches(ssc, a.leftOuterJoin(b), 1)]
        [[('a', (1, 'x')), ('b', (2, None))]]
        """
        n = self._partitions(numPartitions)
        return self._with_other(other, "leftOuterJoin", lambda a, b: a.leftOuterJoin(b, n))

    def rightOuterJoin(self: DStream[tuple[K, V]],
                       other: DStream[tuple[K, W]],
                       numPartitions: int | None = None) -> DStream[tuple[K, tuple[V | None, W]]]:
        """Like ``join``, keeping ``other``'s keys missing from this stream with None.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     a, b = ssc.queueStream([[("a", 1)]]), ssc.queueStream([[("a", "x"), ("c", "y")]])
        ...     [sorted(batch) for batch in run_batches(ssc, a.rightOuterJoin(b), 1)]
        [[('a', (1, 'x')), ('c', (None, 'y'))]]
        """
        n = self._partitions(numPartitions)
        return self._with_other(other, "rightOuterJoin", lambda a, b: a.rightOuterJoin(b, n))

    def fullOuterJoin(self: DStream[tuple[K, V]],
                      other: DStream[tuple[K, W]],
                      numPartitions: int | None = None
                      ) -> DStream[tuple[K, tuple[V | None, W | None]]]:
        """Like ``join``, keeping the keys of either side with None for the missing value.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     a, b = ssc.queueStream([[("a", 1), ("b", 2)]]), ssc.queueStream([[("a", "x"), ("c", "y")]])
        ...     [sorted(batch) for batch in run_batches(ssc, a.fullOuterJoin(b), 1)]
        [[('a', (1, 'x')), ('b', (2, None)), ('c', (None, 'y'))]]
        """
        n = self._partitions(numPartitions)
        return self._with_other(other, "fullOuterJoin", lambda a, b: a.fullOuterJoin(b, n))

    # ------------------------------------------------------------------ windows
    def _window_params(self, windowDuration: float, slideDuration: float | None,
                       method: str = "window") -> tuple[int, int]:
        op = on(self, method)
        window_ms = check_duration(op, "windowDuration", windowDuration)
        check_multiple(window_ms, self.slide_ms, stream=op, what="windowDuration",
                       unit_name="slide (batch) duration")
        slide_ms = (self.slide_ms if slideDuration is None
                    else check_duration(op, "slideDuration", slideDuration))
        check_multiple(slide_ms, self.slide_ms, stream=op, what="slideDuration",
                       unit_name="slide (batch) duration")
        return window_ms, slide_ms

    def window(self, windowDuration: float,
               slideDuration: float | None = None) -> DStream[T]:
        """Every ``slideDuration`` seconds, the union of the last ``windowDuration`` seconds of batches.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     windows = ssc.queueStream([[1], [2], [3], [4]]).window(2, 2)   # every 2nd batch
        ...     run_batches(ssc, windows, 4)
        [[1, 2], [3, 4]]
        """
        window_ms, slide_ms = self._window_params(windowDuration, slideDuration)
        return WindowedDStream(self, window_ms, slide_ms)

    def reduceByKeyAndWindow(self: DStream[tuple[K, V]],
                             func: Callable[[V, V], V],
                             invFunc: Callable[[V, V], V] | None, windowDuration: float,
                             slideDuration: float | None = None, numPartitions: int | None = None,
                             filterFunc: Callable[[tuple[K, V]], bool] | None = None
                             ) -> DStream[tuple[K, V]]:
        """Reduce each key's values over a sliding window.

        With ``invFunc`` (which undoes ``func``) the window is updated incrementally; keys whose
        values all expired stay with the reduced-away value unless ``filterFunc`` drops them.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import operator, tempfile
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     pairs = ssc.queueStream([[("a", 1)], [("a", 1), ("b", 1)], [("b", 1)]])
        ...     counts = pairs.reduceByKeyAndWindow(operator.add, operator.sub, 2, 1)
        ...     [sorted(b) for b in run_batches(ssc, counts, 3)]
        [[('a', 1)], [('a', 2), ('b', 1)], [('a', 1), ('b', 2)]]
        """
        op = on(self, "reduceByKeyAndWindow")
        check_function(op, "func", func, 2)
        check_function(op, "invFunc", invFunc, 2, optional=True)
        check_function(op, "filterFunc", filterFunc, 1, optional=True)
        window_ms, slide_ms = self._window_params(windowDuration, slideDuration, "reduceByKeyAndWindow")
        n = self._partitions(numPartitions)
        reduced = self.reduceByKey(func, n)
        if invFunc is None:
            return WindowedDStream(reduced, window_ms, slide_ms).reduceByKey(func, n)
        return ReducedWindowedDStream(reduced, func, invFunc, window_ms, slide_ms, n, filterFunc)

    def reduceByWindow(self: DStream[X], reduceFunc: Callable[[X, X], X],
                       invReduceFunc: Callable[[X, X], X] | None, windowDuration: float,
                       slideDuration: float) -> DStream[X]:
        """The records of each window reduced with ``reduceFunc`` (``invReduceFunc`` as in
        ``reduceByKeyAndWindow``).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import operator
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     sums = ssc.queueStream([[1], [2], [3]]).reduceByWindow(operator.add, None, 2, 1)
        ...     run_batches(ssc, sums, 3)
        [[1], [3], [5]]
        """
        check_function(on(self, "reduceByWindow"), "reduceFunc", reduceFunc, 2)
        check_function(on(self, "reduceByWindow"), "invReduceFunc", invReduceFunc, 2, optional=True)
        self._window_params(windowDuration, slideDuration, "reduceByWindow")
        keyed = self.map(lambda x: (1, x))
        reduced = keyed.reduceByKeyAndWindow(reduceFunc, invReduceFunc, windowDuration, slideDuration, 1)
        return reduced.map(lambda kv: kv[1])

    def countByWindow(self, windowDuration: float,
                      slideDuration: float) -> DStream[int]:
        """The number of records in each window (needs a checkpoint directory).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import tempfile
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     counts = ssc.queueStream([[1, 1], [2], [3]]).countByWindow(2, 1)
        ...     run_batches(ssc, counts, 3)
        [[2], [3], [2]]
        """
        self._window_params(windowDuration, slideDuration, "countByWindow")
        return self.map(lambda x: 1).reduceByWindow(operator.add, operator.sub, windowDuration,
                                                    slideDuration)

    def countByValueAndWindow(self: DStream[K], windowDuration: float,
                              slideDuration: float, numPartitions: int | None = None
                              ) -> DStream[tuple[K, int]]:
        """``(value, count)`` for the distinct records of each window; zero counts are
        dropped (needs a checkpoint directory).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import tempfile
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     counts = ssc.queueStream([["a"], ["a", "b"], ["b"]]).countByValueAndWindow(2, 1)
        ...     [sorted(b) for b in run_batches(ssc, counts, 3)]
        [[('a', 1)], [('a', 2), ('b', 1)], [('a', 1), ('b', 2)]]
        """
        self._window_params(windowDuration, slideDuration, "countByValueAndWindow")
        keyed = self.map(lambda x: (x, 1))
        counted = keyed.reduceByKeyAndWindow(operator.add, operator.sub, windowDuration,
                                             slideDuration, numPartitions)
        return counted.filter(lambda kv: kv[1] > 0)

    def groupByKeyAndWindow(self: DStream[tuple[K, V]],
                            windowDuration: float, slideDuration: float,
                            numPartitions: int | None = None) -> DStream[tuple[K, ResultIterable[V]]]:
        """Each key's values over a sliding window, as an iterable (needs a checkpoint
        directory).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import tempfile
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     pairs = ssc.queueStream([[("a", 1)], [("a", 2), ("b", 3)], []])
        ...     groups = pairs.groupByKeyAndWindow(2, 1).mapValues(sorted)
        ...     [sorted(b) for b in run_batches(ssc, groups, 3)]
        [[('a', [1])], [('a', [1, 2]), ('b', [3])], [('a', [2]), ('b', [3])]]
        """
        self._window_params(windowDuration, slideDuration, "groupByKeyAndWindow")
        singletons = self.mapValues(lambda x: [x])
        grouped = singletons.reduceByKeyAndWindow(concat, drop_prefix, windowDuration,
                                                  slideDuration, numPartitions)
        return grouped.mapValues(ResultIterable)

    # ------------------------------------------------------------------ state across batches
    def updateStateByKey(self: DStream[tuple[K, V]],
                         updateFunc: Callable[[list[V], S | None], S | None],
                         numPartitions: int | None = None,
                         initialRDD: RDD[tuple[K, S]] | list[tuple[K, S]] | None = None
                         ) -> DStream[tuple[K, S]]:
        """Keep a state per key: every batch ``updateFunc(new_values, state)`` runs for every
        key (``[]`` when it had no new values; ``state`` is None for a new key); returning
        None drops the key.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import tempfile
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     pairs = ssc.queueStream([[("a", 1)], [("a", 1), ("b", 1)], [("b", 1)]])
        ...     counts = pairs.updateStateByKey(lambda new, old: (old or 0) + len(new))
        ...     [sorted(b) for b in run_batches(ssc, counts, 3)]
        [[('a', 1)], [('a', 2), ('b', 1)], [('a', 2), ('b', 2)]]
        """
        check_function(on(self, "updateStateByKey"), "updateFunc", updateFunc, 2)
        n = self._partitions(numPartitions)
        if initialRDD is not None and not isinstance(initialRDD, RDD):
            initialRDD = self._sc.parallelize(list(initialRDD))
        return StateDStream(self, updateFunc, n, initialRDD)

    def mapWithState(self: DStream[tuple[K, V]],
                     spec: StateSpec[K, V, S, U]) -> MapWithStateDStream[K, S, U]:
        """Spark's ``mapWithState``: ``spec``'s function sees only keys with new data (once per
        record) or keys timing out, and returns the records of the resulting stream;
        ``.stateSnapshots()`` on the result gives every key's state each batch.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import tempfile
        >>> from dstream.streaming import StateSpec
        >>> def running_total(key, value, state):
        ...     state.update((state.getOption() or 0) + value)
        ...     return key, state.get()
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     pairs = ssc.queueStream([[("a", 1)], [("a", 2), ("b", 5)], []])
        ...     totals = pairs.mapWithState(StateSpec.function(running_total))
        ...     [sorted(b) for b in run_batches(ssc, totals, 3)]
        [[('a', 1)], [('a', 3), ('b', 5)], []]
        """
        if not isinstance(spec, StateSpec):
            raise TypeError(f"{self.id}: mapWithState takes a StateSpec "
                            f"(StateSpec.function(f)), got {type(spec).__name__}")
        return MapWithStateDStream(self, spec)

    # ------------------------------------------------------------------ event time
    def withEventTime(self, timestampFunc: Callable[[T], datetime | float],
                      maxOutOfOrderness: float, idleTimeout: float | None = None
                      ) -> EventTimeDStream[T]:
        """This stream's records with the event time ``timestampFunc(record)`` gives (a
        ``datetime`` or epoch seconds). The watermark after each batch is the largest event
        time seen so far minus ``maxOutOfOrderness`` seconds; with ``idleTimeout`` seconds,
        once no record came for that long it runs on with the batch clock.

        >>> import tempfile
        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as sc:
        ...     ssc = StreamingContext(sc, 1, clock="manual")
        ...     ssc.checkpoint(tempfile.mkdtemp())
        ...     clicks = ssc.queueStream([[("a", 0.5), ("b", 1.2)], [("a", 2.5)], [("a", 4.0)]])
        ...     pairs = clicks.withEventTime(lambda r: r[1], 0).map(lambda r: (r[0], 1))
        ...     batches = run_batches(ssc, pairs.countByKeyAndEventWindow(2), 3)
        >>> for batch in batches:  # a window closes once the watermark passes its end
        ...     print(sorted((k, str(start.time()), str(end.time()), n)
        ...                  for (k, start, end), n in batch))
        []
        [('a', '00:00:00', '00:00:02', 1), ('b', '00:00:00', '00:00:02', 1)]
        [('a', '00:00:02', '00:00:04', 1)]
        """
        if not callable(timestampFunc):
            raise TypeError(f"{self.id}: withEventTime needs a timestamp function, "
                            f"got {type(timestampFunc).__name__}")
        delay = duration_ms(maxOutOfOrderness, f"{self.id}: withEventTime maxOutOfOrderness")
        idle = None if idleTimeout is None else duration_ms(
            idleTimeout, f"{self.id}: withEventTime idleTimeout", allow_zero=False)
        return EventTimeDStream.stamp(self, timestampFunc, EventTimeSpec(delay, idle))

    # ------------------------------------------------------------------ outputs
    @overload
    def foreachRDD(self, func: Callable[[RDD[T]], None]) -> None: ...
    @overload
    def foreachRDD(self, func: Callable[[datetime, RDD[T]], None]) -> None: ...

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
        close = getattr(func, "close", None)
        if callable(close):
            out.closers.append(close)

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

        def take_and_print(time: datetime, rdd: RDD[T]) -> None:
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

        def save(time: datetime, rdd: RDD[T]) -> None:
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


class TransformedDStream(DStream[U]):
    """``func(time, rdd)`` over the parent; consecutive ones fold into one function."""

    func: Callable[[datetime, RDD[Any]], RDD[U]]
    prev: DStream[Any]
    chain: str

    def __init__(self, prev: DStream[Any], func: Callable[[datetime, RDD[Any]], RDD[U]], op: str) -> None:
        if isinstance(prev, TransformedDStream) and not (prev.is_cached or prev.is_checkpointed):
            prev_func: Callable[[datetime, RDD[Any]], RDD[Any]] = prev.func
            self.func = lambda t, rdd: func(t, prev_func(t, rdd))
            self.prev = prev.prev
            self.chain = f"{prev.chain}.{op}"
        else:
            self.func = func
            self.prev = prev
            self.chain = op
        super().__init__(prev._ssc, [self.prev], op)

    def _compute(self, time_ms: int) -> RDD[U] | None:
        rdd = self.prev._get_or_compute(time_ms)
        if rdd is None:
            return None
        result = self.func(batch_datetime(time_ms), rdd)
        return _checked_rdd(result, self)


class TransformedWithDStream(DStream[U]):
    """``func(time, rdd_a, rdd_b)`` over two streams with the same slide (a parent without an
    RDD at that time gives an empty one, as in PySpark)."""

    def __init__(self, a: DStream[Any], b: DStream[Any],
                 func: Callable[[datetime, RDD[Any], RDD[Any]], RDD[U]], op: str) -> None:
        self.func = func
        super().__init__(a._ssc, [a, b], op)

    def _compute(self, time_ms: int) -> RDD[U] | None:
        a, b = (p._get_or_compute(time_ms) or self._sc.emptyRDD() for p in self.parents)
        return _checked_rdd(self.func(batch_datetime(time_ms), a, b), self)


class MultiTransformedDStream(DStream[U]):
    """``func(time, rdds)`` over several streams (``StreamingContext.transform``); ``rdds`` is
    a tuple in the order of the streams."""

    def __init__(self, ssc: StreamingContextLike, parents: list[DStream[Any]],
                 func: Callable[[datetime, tuple[RDD[Any], ...]], RDD[U]], op: str) -> None:
        self.func = func
        super().__init__(ssc, parents, op)

    def _compute(self, time_ms: int) -> RDD[U] | None:
        rdds = tuple(_parent_rdd(p, time_ms, self) for p in self.parents)
        return _checked_rdd(self.func(batch_datetime(time_ms), rdds), self)


class UnionDStream(DStream[T]):
    def __init__(self, ssc: StreamingContextLike, parents: list[DStream[T]]) -> None:
        super().__init__(ssc, parents, "union")

    def _compute(self, time_ms: int) -> RDD[T] | None:
        return self._sc.union([_parent_rdd(p, time_ms, self) for p in self.parents])


class ForEachDStream(DStream[T]):
    """An output operation: ``func(time, rdd)`` runs as a job every batch."""

    parents: list[DStream[T]]
    #: its place among the context's outputs (set by the graph)
    output_id: int

    def __init__(self, parent: DStream[T], func: Callable[[datetime, RDD[T]], None], op: str) -> None:
        self.func = func
        #: what to close when the context stops (a sink's producer or connection)
        self.closers: list[Callable[[], None]] = []
        super().__init__(parent._ssc, [parent], op)
        self._ssc._graph.add_output(self)

    def _compute(self, time_ms: int) -> RDD[T] | None:
        return self.parents[0]._get_or_compute(time_ms)

    def _generate_job(self, time_ms: int) -> Callable[[], None] | None:
        """The batch's job, or None when the parent has no RDD at this time."""
        rdd = self.parents[0]._get_or_compute(time_ms)
        if rdd is None:
            return None
        when = batch_datetime(time_ms)
        return lambda: self.func(when, rdd)


# ---------------------------------------------------------------------- windows
class _WindowBase(DStream[T]):
    """A stream over windows of its parent: the parent must remember a window more."""

    window_ms: int

    def _parent_remember_ms(self) -> int | None:
        return None if self.remember_ms is None else self.remember_ms + self.window_ms


class WindowedDStream(_WindowBase[T]):
    """The union of the parent's RDDs in each window; the parent's RDDs are cached meanwhile."""

    parents: list[DStream[T]]

    def __init__(self, parent: DStream[T], window_ms: int, slide_ms: int) -> None:
        self.window_ms = window_ms
        super().__init__(parent._ssc, [parent], "window", slide_ms)
        if not parent.is_cached:
            parent.persist(StorageLevel.MEMORY_ONLY)

    def _compute(self, time_ms: int) -> RDD[T] | None:
        parent = self.parents[0]
        rdds = parent._slice_ms(time_ms - self.window_ms + parent.slide_ms, time_ms)
        return self._sc.union(rdds) if rdds else None


class ReducedWindowedDStream(_WindowBase[tuple[K, V]]):
    """``reduceByKeyAndWindow`` with an inverse function (PySpark's PythonReducedWindowedDStream)."""

    parents: list[DStream[tuple[K, V]]]

    def __init__(self, reduced: DStream[tuple[K, V]], func: Callable[[V, V], V],
                 inv_func: Callable[[V, V], V], window_ms: int, slide_ms: int, num_partitions: int,
                 filter_func: Callable[[tuple[K, V]], bool] | None) -> None:
        self.window_ms = window_ms
        self.func, self.inv_func, self.filter_func = func, inv_func, filter_func
        self.num_partitions = num_partitions
        super().__init__(reduced._ssc, [reduced], "reduceByKeyAndWindow", slide_ms)
        self._user(func, inv_func, filter_func)
        # each batch's reduced counts are read again when they leave the window (and, for a
        # short window, at every slide): kept, as Spark's ReducedWindowedDStream keeps them,
        # rather than merged again from the shuffle's map outputs
        if not reduced.is_cached:
            reduced.persist(StorageLevel.MEMORY_ONLY)
        self.storage_level = StorageLevel.MEMORY_ONLY
        self.is_cached = True
        self.must_checkpoint = True

    def _compute(self, time_ms: int) -> RDD[tuple[K, V]] | None:
        parent = self.parents[0]
        previous_end = time_ms - self.slide_ms
        current_begin = time_ms - self.window_ms
        previous = self._get_or_compute(previous_end)
        if previous is not None and self.window_ms >= self.slide_ms * INVERSE_MIN_SLIDES:
            old = parent._slice_ms(previous_end - self.window_ms + parent.slide_ms, current_begin)
            new = parent._slice_ms(previous_end + parent.slide_ms, time_ms)
            return next_window(previous, old, new, self.func, self.inv_func, self.filter_func,
                               self.num_partitions)
        current = parent._slice_ms(current_begin + parent.slide_ms, time_ms)
        if not current:
            return None
        result = self._sc.union(current).reduceByKey(self.func, self.num_partitions)
        return result.filter(self.filter_func) if self.filter_func else result


# ---------------------------------------------------------------------- state across batches
class _StatefulDStream(DStream[T]):
    """Cached every batch, checkpointed every checkpoint interval, partitioned by key hash."""

    def __init__(self, parent: DStream[Any], op: str, num_partitions: int) -> None:
        super().__init__(parent._ssc, [parent], op)
        self.partitioner = Partitioner(num_partitions, portable_hash)
        self.storage_level = StorageLevel.MEMORY_ONLY
        self.is_cached = True
        self.must_checkpoint = True

    def _co_partitioned(self, rdd: RDD[tuple[K, V]]) -> RDD[tuple[K, V]]:
        if rdd.partitioner == self.partitioner:
            return rdd
        return rdd.partitionBy(self.partitioner.numPartitions, self.partitioner.partitionFunc)


class StateDStream(_StatefulDStream[tuple[K, S]], Generic[K, V, S]):
    """PySpark's ``updateStateByKey``: ``update(new_values, state)`` for every key, every batch."""

    parents: list[DStream[tuple[K, V]]]

    def __init__(self, parent: DStream[tuple[K, V]],
                 update_func: Callable[[list[V], S | None], S | None], num_partitions: int,
                 initial: RDD[tuple[K, S]] | None) -> None:
        super().__init__(parent, "updateStateByKey", num_partitions)
        self._user(update_func)
        self.update_func = update_func
        self.initial = initial

    def _compute(self, time_ms: int) -> RDD[tuple[K, S]] | None:
        last = self._get_or_compute(time_ms - self.slide_ms)
        batch = self.parents[0]._get_or_compute(time_ms)
        if batch is None:
            return last
        previous = last
        from_initial = False
        if previous is None and self.initial is not None:
            previous, from_initial = self._co_partitioned(self.initial), True
        return StateUpdateRDD(previous, self._co_partitioned(batch), self.update_func,
                              self.partitioner, from_initial)


class _InternalMapWithStateDStream(_StatefulDStream[_StateRecord]):
    def __init__(self, parent: DStream[tuple[Any, Any]], spec: StateSpec[Any, Any, Any, Any]) -> None:
        super().__init__(parent, "mapWithState", spec._num_partitions or parent._sc.defaultParallelism)
        self._user(spec._user_func)
        self.spec = spec

    def _compute(self, time_ms: int) -> RDD[_StateRecord] | None:
        last = self._get_or_compute(time_ms - self.slide_ms)
        batch = self.parents[0]._get_or_compute(time_ms)
        if batch is None:
            batch = self._sc.emptyRDD()
        previous: RDD[_StateRecord] | RDD[tuple[Any, Any]] | None = last
        if previous is None and self.spec._initial is not None:
            initial = self.spec._initial
            if not isinstance(initial, RDD):
                initial = self._sc.parallelize(list(initial))
            previous = self._co_partitioned(initial)
        return MapWithStateRDD(previous, self._co_partitioned(batch), self.spec, time_ms,
                               self.partitioner)

    def _on_forget(self, time_ms: int, rdd: RDD[Any]) -> None:
        super()._on_forget(time_ms, rdd)
        for state_map in getattr(rdd, "state_maps", {}).values():
            state_map.forget_through(time_ms)    # no older version will be read again

    def _capture_incremental(self, manager: CheckpointManager, key: str, time_ms: int, rdd: RDD[Any],
                            info: dict[str, Any] | None) -> DataSnapshot:
        """This operator's data checkpoint: a snapshot or a delta (``state_checkpoints``)."""
        every = snapshot_every(self._sc._conf)
        return capture_incremental(manager, key, self.op, time_ms, rdd, info, every)


class MapWithStateDStream(TransformedDStream[U], Generic[K, S, U]):
    """The records the ``mapWithState`` function returned; ``stateSnapshots()`` for the state.
    Typed as ``MapWithStateDStream[key, state, record]``."""

    def __init__(self, parent: DStream[tuple[K, Any]], spec: StateSpec[K, Any, S, U]) -> None:
        self.internal = _InternalMapWithStateDStream(parent, spec)
        super().__init__(self.internal, lambda _t, rdd: rdd.flatMap(_mapped_of), "mapped")
        self.is_cached = False

    def stateSnapshots(self) -> DStream[tuple[K, S]]:
        return TransformedDStream(self.internal, lambda _t, rdd: rdd.flatMap(_states_of),
                                  "stateSnapshots")


# ---------------------------------------------------------------------- event time
#: a stream's function of its parent's RDD (``TransformedDStream.func``)
RDDFunc = Callable[[datetime, RDD[Any]], RDD[Any]]


def _strip(_time: datetime, rdd: RDD[tuple[int, T]]) -> RDD[T]:
    return rdd.map(_record_of, True)


def _same(_time: datetime, rdd: RDD[T]) -> RDD[T]:
    return rdd


def _pairs_from(source: RDDFunc, chunks_of: ChunkReader
                ) -> Callable[[datetime, RDD[Any]], RDD[tuple[int, Any]]]:
    def pairs(t: datetime, rdd: RDD[Any]) -> RDD[tuple[int, Any]]:
        return source(t, rdd).mapPartitions(lambda records: pairs_of(chunks_of(records)))
    return pairs


class StampedDStream(TransformedDStream[tuple[int, T]]):
    """The ``(event ms, record)`` pairs of an event-time stream, kept as a recipe: the
    *source* records (``source_func`` over ``prev``'s RDD: the records before
    ``withEventTime``) and ``chunks_of``, which reads them as stamped chunks (the timestamp
    function, then the steps of ``map``, ``filter``, ...). The windowed operators run the
    recipe in their map task (``source_rdd`` and ``chunks_of``); the pairs are made only for
    the stream's records as such.

    >>> from dstream import Context, StreamingContext
    >>> from dstream.streaming.testing import run_batches
    >>> with Context("local") as ctx:
    ...     ssc = StreamingContext(ctx, 1, clock="manual")
    ...     events = ssc.queueStream([[("a", 3.0)]]).withEventTime(lambda kv: kv[1], 1)
    ...     run_batches(ssc, events.stamped, 1), events.stamped.id
    ([[(3000, ('a', 3.0))]], 'queueStream-0.withEventTime')
    """

    def __init__(self, prev: DStream[Any], source_func: RDDFunc, chunks_of: ChunkReader,
                 chain: str) -> None:
        self.prev, self.chain = prev, chain
        self.source_func, self.chunks_of = source_func, chunks_of
        self.func = _pairs_from(source_func, chunks_of)
        DStream.__init__(self, prev._ssc, [prev], chain.rsplit(".", 1)[-1])

    @staticmethod
    def stamping(parent: DStream[Any], chunks_of: ChunkReader, op: str) -> StampedDStream[Any]:
        """``parent``'s records read by ``chunks_of`` (``parent``'s own folded operators run
        first, in the same pass)."""
        if isinstance(parent, TransformedDStream) and not (parent.is_cached or parent.is_checkpointed):
            return StampedDStream(parent.prev, parent.func, chunks_of, f"{parent.chain}.{op}")
        return StampedDStream(parent, _same, chunks_of, op)

    def then(self, step: ChunkStep, op: str) -> StampedDStream[Any]:
        """These stamped records through ``step`` (an operator that keeps event time)."""
        if self.is_cached or self.is_checkpointed:
            return StampedDStream(self, _same, then(unzip_chunks, step), op)
        return StampedDStream(self.prev, self.source_func, then(self.chunks_of, step),
                              f"{self.chain}.{op}")

    def source_rdd(self, time_ms: int) -> RDD[Any] | None:
        """The batch's source records (``chunks_of`` reads them), or None without a batch."""
        if self.is_cached or self.is_checkpointed:
            raise ValueError(f"{self.id}: a cached stamped stream is read as pairs")
        rdd = self.prev._get_or_compute(time_ms)
        if rdd is None:
            return None
        return _checked_rdd(self.source_func(batch_datetime(time_ms), rdd), self)


class EventTimeDStream(TransformedDStream[T]):
    """A stream whose records carry their event time (``withEventTime``).

    Its RDDs hold the records as they are; ``stamped`` is the stream of ``(event ms,
    record)`` pairs behind them (the event-time operators read its recipe a chunk at a
    time, ``StampedDStream``).

    >>> from dstream import Context, StreamingContext
    >>> from dstream.streaming.testing import run_batches
    >>> with Context("local") as ctx:
    ...     ssc = StreamingContext(ctx, 1, clock="manual")
    ...     clicks = ssc.queueStream([[("a", 3.0)]]).withEventTime(lambda kv: kv[1], 1)
    ...     run_batches(ssc, clicks.mapValues(lambda t: t * 2), 1)
    [[('a', 6.0)]]
    """

    def __init__(self, stamped: StampedDStream[T], spec: EventTimeSpec) -> None:
        super().__init__(stamped, _strip, "events")
        self.stamped = stamped
        self.event_time = spec

    @staticmethod
    def stamp(parent: DStream[U], timestampFunc: Callable[[U], datetime | float],
              spec: EventTimeSpec) -> EventTimeDStream[U]:
        """``parent``'s records with the event time ``timestampFunc`` gives each."""
        sid = parent.id
        chunks_of: ChunkReader = lambda records: stamp_chunks(records, timestampFunc, sid)
        stamped: StampedDStream[U] = StampedDStream.stamping(parent, chunks_of, "withEventTime")
        stamped._user(timestampFunc)
        return EventTimeDStream(stamped, spec)

    def _keep_time(self, op: str, step: ChunkStep, user: Callable[..., Any]
                   ) -> EventTimeDStream[Any]:
        stamped = self.stamped.then(step, op)
        stamped._user(user)
        return EventTimeDStream(stamped, self.event_time)

    def setName(self: E, name: str) -> E:
        """Name this stream (and its stamped records, ``<name>.stamped``) for stable ids."""
        self.stamped.setName(f"{name}.stamped")
        return super().setName(name)

    # -------------------------------------------------- narrow operators that keep event time
    def map(self, f: Callable[[T], U], preservesPartitioning: bool = False) -> EventTimeDStream[U]:
        return self._keep_time("map", map_step(f), f)

    def flatMap(self, f: Callable[[T], Iterable[U]], preservesPartitioning: bool = False
                ) -> EventTimeDStream[U]:
        return self._keep_time("flatMap", flat_map_step(f), f)

    def filter(self, f: Callable[[T], bool]) -> EventTimeDStream[T]:
        return self._keep_time("filter", filter_step(f), f)

    def mapValues(self: EventTimeDStream[tuple[K, V]], f: Callable[[V], U]
                  ) -> EventTimeDStream[tuple[K, U]]:
        return self._keep_time("mapValues", map_values_step(f), f)

    def flatMapValues(self: EventTimeDStream[tuple[K, V]], f: Callable[[V], Iterable[U]]
                      ) -> EventTimeDStream[tuple[K, U]]:
        return self._keep_time("flatMapValues", flat_map_values_step(f), f)

    # -------------------------------------------------- windows by event time
    def reduceByKeyAndEventWindow(self: EventTimeDStream[tuple[K, V]], func: Callable[[V, V], V],
                                  windowDuration: float, slideDuration: float | None = None,
                                  allowedLateness: float = 0, mode: str = "final",
                                  numPartitions: int | None = None
                                  ) -> EventWindowDStream[tuple[WindowKey[K], V], tuple[K, V]]:
        """Each key's values reduced with ``func`` per event-time window (tumbling, or
        sliding every ``slideDuration`` seconds): ``((key, windowStart, windowEnd), value)``."""
        _check_function(self, func, "reduceByKeyAndEventWindow")
        return event_windows(self, "reduceByKeyAndEventWindow", Aggregation.reducing(func),
                             windowDuration, slideDuration, allowedLateness, mode, numPartitions,
                             func)

    def countByKeyAndEventWindow(self: EventTimeDStream[tuple[K, V]], windowDuration: float,
                                 slideDuration: float | None = None, allowedLateness: float = 0,
                                 mode: str = "final", numPartitions: int | None = None
                                 ) -> EventWindowDStream[tuple[WindowKey[K], int], tuple[K, V]]:
        """Records per key and event-time window: ``((key, windowStart, windowEnd), count)``."""
        return event_windows(self, "countByKeyAndEventWindow", Aggregation.counting(),
                             windowDuration, slideDuration, allowedLateness, mode, numPartitions)

    def aggregateByKeyAndEventWindow(self: EventTimeDStream[tuple[K, V]], zeroValue: U,
                                     seqFunc: Callable[[U, V], U], combFunc: Callable[[U, U], U],
                                     windowDuration: float, slideDuration: float | None = None,
                                     allowedLateness: float = 0, mode: str = "final",
                                     numPartitions: int | None = None
                                     ) -> EventWindowDStream[tuple[WindowKey[K], U], tuple[K, V]]:
        """``aggregateByKey`` per event-time window: ``seqFunc`` adds a value to an
        accumulator that starts as a copy of ``zeroValue``, ``combFunc`` merges two (both
        may change their first argument in place)."""
        _check_function(self, seqFunc, "aggregateByKeyAndEventWindow")
        _check_function(self, combFunc, "aggregateByKeyAndEventWindow")
        return event_windows(self, "aggregateByKeyAndEventWindow",
                             Aggregation.aggregating(zeroValue, seqFunc, combFunc),
                             windowDuration, slideDuration, allowedLateness, mode, numPartitions,
                             seqFunc, combFunc)

    def reduceByKeyAndSessionWindow(self: EventTimeDStream[tuple[K, V]], func: Callable[[V, V], V],
                                    gap: float, allowedLateness: float = 0,
                                    numPartitions: int | None = None
                                    ) -> EventWindowDStream[tuple[WindowKey[K], V], tuple[K, V]]:
        """Per key, records closer than ``gap`` seconds form a session; each session's
        values reduced with ``func``, emitted once it closes:
        ``((key, first record, last record + gap), value)``.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import operator, tempfile
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     visits = ssc.queueStream([[("u", 1.0), ("u", 3.0)], [("u", 30.0)]])
        ...     pages = visits.withEventTime(lambda kv: kv[1], 0).mapValues(lambda t: 1)
        ...     sessions = pages.reduceByKeyAndSessionWindow(operator.add, 5)
        ...     [[(k, s.second, e.second, n) for (k, s, e), n in b] for b in run_batches(ssc, sessions, 2)]
        [[], [('u', 1, 8, 2)]]
        """
        _check_function(self, func, "reduceByKeyAndSessionWindow")
        gap_ms = duration_ms(gap, f"{self.id}: reduceByKeyAndSessionWindow gap", allow_zero=False)
        lateness = duration_ms(allowedLateness, f"{self.id}: reduceByKeyAndSessionWindow allowedLateness")
        n = self._partitions(numPartitions)
        state = EventStateDStream(self, Sessions(gap_ms, lateness, func), n,
                                  "reduceByKeyAndSessionWindow")
        state._user(func)
        return EventWindowDStream(state)


def _check_function(stream: DStream[Any], func: object, op: str) -> None:
    if not callable(func):
        raise TypeError(f"{stream.id}: {op} needs a function, got {type(func).__name__} {func!r:.60}")


# ---------------------------------------------------------------------- event-time windows
class EventStateDStream(_StatefulDStream[Any]):
    """The operator's state, one RDD of ``n + 1`` partitions per batch (``event_state.py``);
    checkpointed under its stable id like every stateful operator. After each batch it
    reports the watermark, open windows and late records to the batch's ``BatchInfo``."""

    def __init__(self, events: EventTimeDStream[Any], strategy: Strategy, n: int, op: str) -> None:
        super().__init__(events.stamped, op, n)
        self.events_id = events.id
        self.strategy, self.spec, self.n = strategy, events.event_time, n
        self.stats: Accumulator[Stats] = Accumulator({}, StatsParam())
        self._ssc._scheduler.before_complete.append(self._report)

    def _compute(self, time_ms: int) -> RDD[Any] | None:
        previous = self._get_or_compute(time_ms - self.slide_ms)
        if previous is not None and previous.getNumPartitions() != self.n + 1:
            raise ValueError(
                f"{self.id}: the saved state has {previous.getNumPartitions() - 1} key partitions "
                f"and this job asks for {self.n}: pass numPartitions={previous.getNumPartitions() - 1}"
                " to keep the state")
        batch, chunks_of = self._batch(time_ms)
        shuffled = ShuffledRDD(PreAggregateRDD(batch, chunks_of, previous, self.strategy, self.n),
                               EventRoute(self.n))
        return EventStateRDD(previous, shuffled, self.strategy, self.n, time_ms, self.spec,
                             self.stats)

    def _batch(self, time_ms: int) -> tuple[RDD[Any], Callable[[Iterator[Any]], Iterator[Chunk]]]:
        """The batch's records and how its map tasks read them as stamped chunks: the records
        before ``withEventTime`` and the stream's recipe, or the stamped pairs if cached."""
        stamped = self.parents[0]
        if isinstance(stamped, StampedDStream) and not (stamped.is_cached or stamped.is_checkpointed):
            return stamped.source_rdd(time_ms) or self._sc.emptyRDD(), stamped.chunks_of
        return stamped._get_or_compute(time_ms) or self._sc.emptyRDD(), unzip_chunks

    def _report(self, jobset: JobSet) -> None:
        """Move this batch's statistics from the tasks into its ``BatchInfo``."""
        with self.stats._lock:
            entries = self.stats._value
            mine = {split: v for (t, split), v in entries.items() if t == jobset.time_ms}
            for key in [key for key in entries if key[0] <= jobset.time_ms]:
                del entries[key]
        wm = mine.pop(self.n, None)
        if not isinstance(wm, Watermark):
            return
        late = sum(v[0] for v in mine.values())
        open_windows = sum(v[1] for v in mine.values())
        jobset.info.event_time[self.id] = EventTimeInfo(self.events_id, wm.watermark_ms, late,
                                                        open_windows)


class EventWindowDStream(TransformedDStream[T], Generic[T, R]):
    """The results of an event-time windowed operator: ``((key, windowStart, windowEnd),
    value)`` with naive local datetimes; ``lateRecords()`` for the records it left out."""

    def __init__(self, state: EventStateDStream) -> None:
        super().__init__(state, _emitted, "windows")
        self.state = state

    def lateRecords(self) -> EventTimeDStream[R]:
        """The records this operator left out as late, with their event times, per batch.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import tempfile
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     clicks = ssc.queueStream([[("a", 20.0)], [("b", 3.0)]])
        ...     counts = clicks.withEventTime(lambda kv: kv[1], 5).countByKeyAndEventWindow(10)
        ...     run_batches(ssc, counts.lateRecords(), 2)
        [[], [('b', 3.0)]]
        """
        stamped: StampedDStream[R] = StampedDStream(self.state, _late, unzip_chunks, "lateRecords")
        return EventTimeDStream(stamped, self.state.spec)

    def checkpoint(self: EW, interval: float) -> EW:
        """Save the operator's state every ``interval`` seconds (a multiple of the batch
        duration; default: the smallest multiple at least 10 s)."""
        self.state.checkpoint(interval)
        return self

    def setName(self: EW, name: str) -> EW:
        """Name the results; the state is saved under ``<name>.state``."""
        self.state.setName(f"{name}.state")
        return super().setName(name)


def _emitted(_time: Any, rdd: RDD[Any]) -> RDD[Any]:
    return rdd.flatMap(_emitted_of)


def _emitted_of(record: Any) -> list[Any]:
    return record.emitted if type(record) is KeyedState else []


def _late(_time: Any, rdd: RDD[Any]) -> RDD[Any]:
    return rdd.flatMap(_late_of)


def _late_of(record: Any) -> list[Any]:
    return record.late if type(record) is KeyedState else []


def event_windows(events: EventTimeDStream[R], op: str, agg: Aggregation, windowDuration: float,
                  slideDuration: float | None, allowedLateness: float, mode: str,
                  numPartitions: int | None, *user_funcs: Callable[..., Any]
                  ) -> EventWindowDStream[Any, R]:
    """Build a tumbling or sliding event-time window operator (arguments checked here)."""
    size = duration_ms(windowDuration, f"{events.id}: {op} windowDuration", allow_zero=False)
    slide = size if slideDuration is None else duration_ms(
        slideDuration, f"{events.id}: {op} slideDuration", allow_zero=False)
    if slide > size:
        raise ValueError(f"{events.id}: {op} slideDuration ({slide / 1000:g} s) must not exceed "
                         f"windowDuration ({size / 1000:g} s)")
    lateness = duration_ms(allowedLateness, f"{events.id}: {op} allowedLateness")
    if mode not in MODES:
        raise ValueError(f"{events.id}: {op} mode must be 'final' or 'update', got {mode!r}")
    n = events._partitions(numPartitions)
    windows = (FinalWindows if mode == "final" else Windows)(size, slide, lateness, mode, agg)
    state = EventStateDStream(events, windows, n, op)
    state._user(*user_funcs)
    return EventWindowDStream(state)


def _parent_rdd(parent: DStream[T], time_ms: int, child: DStream[Any]) -> RDD[T]:
    """The parent's RDD at ``time_ms``; a stream over several parents needs every one."""
    rdd = parent._get_or_compute(time_ms)
    if rdd is None:
        raise ValueError(f"{child.id}: {parent.id} generated no RDD for the batch of "
                         f"{batch_datetime(time_ms)} ({time_ms} ms), so {child.op} cannot combine it")
    return rdd


def _checked_rdd(result: object, stream: DStream[Any]) -> RDD[Any] | None:
    if result is None or isinstance(result, RDD):
        return result
    raise TypeError(f"{stream.id} ({stream.op} at {stream.call_site}): the function must return "
                    f"an RDD, got {type(result).__name__}")


def _check_same_slide(a: DStream[Any], b: DStream[Any], op: str) -> None:
    if not isinstance(b, DStream):
        raise TypeError(f"{op} takes a DStream, got {type(b).__name__}")
    if a.slide_ms != b.slide_ms:
        raise ValueError(f"{op}: {a.id} slides every {a.slide_ms / 1000:g} s but {b.id} every "
                         f"{b.slide_ms / 1000:g} s; the two DStreams must have the same slide duration")


def _epoch_ms(time: datetime | float) -> int:
    if hasattr(time, "timestamp"):
        return int(round(time.timestamp() * 1000))
    return int(time)


def _to_epoch_ms(value: datetime | float) -> int:
    if hasattr(value, "timestamp"):
        return int(round(value.timestamp() * 1000))
    return int(round(float(value) * 1000))

