"""``StreamingContext``: the entry point of streaming (PySpark's, method for method).

>>> from dstream import Context, StreamingContext
>>> with Context("local") as ctx:
...     ssc = StreamingContext(ctx, batchDuration=1, clock="manual")
...     ssc.queueStream([[1, 2]]).pprint()
...     ssc.start()
...     ssc._clock.advance(1000); ssc._scheduler.wait_for_batch(1000, 10)
...     ssc.stop(stopSparkContext=False)
-------------------------------------------
Time: 1970-01-01 ...
-------------------------------------------
1
2
<BLANKLINE>
True
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime
from typing import Any, Callable, Iterable, TypeVar, overload

from ..context import Context
from ..errors import ContextStateError
from ..rdd import RDD
from .clock import Clock, ManualClock, SystemClock
from .dstream import DStream, MultiTransformedDStream, UnionDStream, adapt_time_func
from .arguments import check_duration, check_function, check_timeout
from .graph import DStreamGraph
from .inputs.constructors import InputStreams
from .inputs.queue import QueueInputDStream
from .listener import BatchHistory, ListenerBus, StreamingListener
from .inputs.receiver_streams import ReceiverTracker
from .stream_checkpoints import StreamCheckpoints
from .recovery import Recovery
from .scheduler import JobScheduler, JobSet
from .graph_restore import MODE_KEY as RECOVERY_MODE_KEY, checkpoint_contents, recovery_mode, save_graph
from .graph_restore import restore as restore_saved_graph
from .shutdown import SETTING as GRACEFUL_ON_SHUTDOWN, GracefulShutdown

T = TypeVar("T")
U = TypeVar("U")

__all__ = ["StreamingContext"]

log = logging.getLogger(__name__)

_INITIALIZED, _ACTIVE, _STOPPED = "INITIALIZED", "ACTIVE", "STOPPED"
_active_lock = threading.RLock()


class StreamingContext(InputStreams):
    """Cuts input into one RDD per ``batchDuration`` seconds and runs the output operations.

    ``clock="manual"`` (or conf ``dstream.streaming.clock=manual``) gives a clock that only
    moves when ``ssc._clock.advance(ms)`` is called: tests step batches one at a time.
    """

    _activeContext: StreamingContext | None = None
    _recovering = False

    def __init__(self, sparkContext: Context, batchDuration: float | None = None,
                 jssc: Any = None, *, clock: Clock | str | None = None) -> None:
        if not isinstance(sparkContext, Context):
            raise TypeError(f"StreamingContext needs a Context, got {type(sparkContext).__name__}")
        if batchDuration is None:
            raise ValueError("StreamingContext needs batchDuration (seconds)")
        self._sc = sparkContext
        self._batch_ms = check_duration("StreamingContext", "batchDuration", batchDuration)
        conf = sparkContext._conf
        self._clock = _make_clock(clock if clock is not None else conf.get("dstream.streaming.clock"))
        self._graph = DStreamGraph()
        self._bus = ListenerBus()
        self._history = BatchHistory(conf.getInt("dstream.streaming.ui.retainedBatches", 1000))
        self._bus.add(self._history)
        self._scheduler = JobScheduler(self, self._clock, conf.getInt("dstream.streaming.concurrentJobs", 1))
        self._scheduler.after_batch.append(self._after_batch)
        self._receiver_tracker = ReceiverTracker(self)
        self._scheduler.before_generate.append(self._receiver_tracker.allocate)
        self._state = _INITIALIZED
        self._checkpoint_location: str | None = None
        self._checkpoints: StreamCheckpoints | None = None
        self._recover = False
        self._recovered: dict[str, Any] | None = None
        self._zero_time_ms: int | None = None
        self._waiter = threading.Condition()
        self._error: BaseException | None = None
        self._shutdown_hook: GracefulShutdown | None = None

    # ------------------------------------------------------------------ properties
    @property
    def sparkContext(self) -> Context:
        """The ``Context`` (PySpark's ``SparkContext``) this streaming context runs on.

        >>> from dstream import Context, StreamingContext
        >>> with Context("local") as ctx:
        ...     StreamingContext(ctx, 1).sparkContext is ctx
        True
        """
        return self._sc

    @property
    def batch_duration_ms(self) -> int:
        """The batch duration, in milliseconds.

        >>> from dstream import Context, StreamingContext
        >>> with Context("local") as ctx:
        ...     StreamingContext(ctx, 0.5).batch_duration_ms
        500
        """
        return self._batch_ms

    def getState(self) -> str:
        """``'INITIALIZED'``, then ``'ACTIVE'`` once started, ``'STOPPED'`` once stopped.

        >>> from dstream import Context, StreamingContext
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     ssc.queueStream([[1]]).foreachRDD(lambda rdd: None)
        ...     before = ssc.getState(); ssc.start(); during = ssc.getState(); ssc.stop(False)
        ...     before, during, ssc.getState()
        ('INITIALIZED', 'ACTIVE', 'STOPPED')
        """
        return self._state

    @classmethod
    def getActive(cls) -> StreamingContext | None:
        """The started, not yet stopped, ``StreamingContext`` of this process, or None.

        >>> from dstream import Context, StreamingContext
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     ssc.queueStream([[1]]).foreachRDD(lambda rdd: None)
        ...     ssc.start(); active = StreamingContext.getActive() is ssc; ssc.stop(False)
        ...     active, StreamingContext.getActive()
        (True, None)
        """
        with _active_lock:
            return cls._activeContext

    @classmethod
    def getActiveOrCreate(cls, checkpointPath: str | None,
                          setupFunc: Callable[[], StreamingContext]) -> StreamingContext:
        """The active context if there is one, else ``getOrCreate(checkpointPath, setupFunc)``
        (or ``setupFunc()`` when ``checkpointPath`` is None).

        >>> from dstream import Context, StreamingContext
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext.getActiveOrCreate(None, lambda: StreamingContext(ctx, 2))
        ...     ssc.batch_duration_ms
        2000
        """
        check_function("StreamingContext.getActiveOrCreate", "setupFunc", setupFunc, 0)
        active = cls.getActive()
        if active is not None:
            return active
        if checkpointPath is not None:
            return cls.getOrCreate(checkpointPath, setupFunc)
        return _checked_setup(setupFunc)

    @classmethod
    def getOrCreate(cls, checkpointPath: str, setupFunc: Callable[[], StreamingContext]) -> StreamingContext:
        """The context ``setupFunc`` builds from the job's *current* code; when
        ``checkpointPath`` holds a checkpoint, ``start()`` reattaches what it saved (batch
        grid, received blocks, source positions, each stateful operator's state).

        Unlike Spark, the graph is never unpickled from the checkpoint, so a changed job
        (a new map step, another output, new configuration) recovers as long as its stateful
        operators keep their ids (see ``DStream.setName``).

        >>> import tempfile
        >>> from dstream import Context, StreamingContext
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext.getOrCreate(tempfile.mkdtemp(), lambda: StreamingContext(ctx, 2))
        ...     ssc.batch_duration_ms, StreamingContext.isRecovering()    # an empty directory: a fresh start
        (2000, False)
        """
        check_function("StreamingContext.getOrCreate", "setupFunc", setupFunc, 0)
        has_metadata, has_graph = checkpoint_contents(checkpointPath)
        StreamingContext._recovering = has_metadata
        if has_metadata and has_graph:
            log.warning("recovering from the checkpoint in %s: restoring the saved graph without "
                        "calling the setup function (%s=restore, as PySpark does)",
                        checkpointPath, RECOVERY_MODE_KEY)
            ssc = restore_saved_graph(checkpointPath, StreamingContext)
        else:
            if has_metadata:
                log.warning(
                    "recovering from the checkpoint in %s: calling the setup function again to "
                    "rebuild the graph from the current code (dstream's default; PySpark does not "
                    "call it). Side effects in it run again: guard them with "
                    "StreamingContext.isRecovering(), or set %s=restore for PySpark's behaviour",
                    checkpointPath, RECOVERY_MODE_KEY)
            ssc = _checked_setup(setupFunc)
        if ssc._checkpoint_location is None:
            ssc.checkpoint(checkpointPath)
        ssc._recover = True
        return ssc

    @staticmethod
    def isRecovering() -> bool:
        """True while ``getOrCreate`` recovers from a checkpoint, from before it calls the setup
        function (which can so skip side effects meant for a fresh start, such as deleting
        the previous run's output) until the next ``getOrCreate``.

        >>> import tempfile
        >>> from dstream import Context, StreamingContext
        >>> def setup():
        ...     print("recovering:", StreamingContext.isRecovering())
        ...     return StreamingContext(Context("local"), 1)
        >>> ssc = StreamingContext.getOrCreate(tempfile.mkdtemp(), setup)
        recovering: False
        >>> ssc.sparkContext.stop()
        """
        return StreamingContext._recovering

    # ------------------------------------------------------------------ configuration
    def remember(self, duration: float) -> None:
        """Keep each stream's RDDs at least ``duration`` seconds (for ad-hoc queries).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     ssc.remember(60); stream = ssc.queueStream([[1], [2]])
        ...     _ = run_batches(ssc, stream, 2)
        ...     [rdd.collect() for rdd in stream.slice(1, 2)]    # both batches still there
        [[1], [2]]
        """
        self._graph.check_can_define("remember")
        self._graph.remember(check_duration("StreamingContext.remember", "duration", duration))

    def checkpoint(self, directory: str) -> None:
        """Where metadata and state checkpoints go (needed by stateful operators): a directory
        (the embedded default) or a ``redis://host:port/db?prefix=app`` URL.

        >>> import tempfile
        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     pairs = ssc.queueStream([[("a", 1)], [("a", 2)]])
        ...     totals = pairs.updateStateByKey(lambda new, old: sum(new) + (old or 0))
        ...     run_batches(ssc, totals, 2)
        [[('a', 1)], [('a', 3)]]
        """
        location = directory        # PySpark's parameter name; a Redis URL is a location too
        if not isinstance(location, str) or not location:
            raise ValueError(f"checkpoint needs a directory or a redis:// URL, got {location!r}")
        if "://" in location and not location.startswith("file://"):
            self._checkpoint_location = location
            return
        path = location[len("file://"):] if location.startswith("file://") else location
        os.makedirs(path, exist_ok=True)
        self._checkpoint_location = os.path.abspath(path)
        self._sc.setCheckpointDir(os.path.join(self._checkpoint_location, "rdd"))

    def _checkpoint_location_in_use(self) -> str | None:
        """Where this context checkpoints: ``checkpoint()``'s location, else the Context's
        checkpoint directory."""
        return self._checkpoint_location or self._sc.getCheckpointDir()

    def addStreamingListener(self, streamingListener: StreamingListener) -> None:
        """Deliver this context's events (batches, receivers, outputs) to ``streamingListener``.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import advance_batch
        >>> from dstream.streaming import StreamingListener
        >>> class Completed(StreamingListener):
        ...     def onBatchCompleted(self, batchCompleted):
        ...         print("batch", batchCompleted.batchInfo().batchTime().milliseconds(), "completed")
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     ssc.addStreamingListener(Completed()); ssc.queueStream([[1]]).foreachRDD(lambda rdd: None)
        ...     ssc.start(); _ = advance_batch(ssc); ssc.stop(False)
        batch 1000 completed
        """
        if not isinstance(streamingListener, StreamingListener):
            raise TypeError("addStreamingListener takes a StreamingListener subclass instance")
        self._bus.add(streamingListener)

    def removeStreamingListener(self, streamingListener: StreamingListener) -> None:
        """Stop delivering events to ``streamingListener``.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> from dstream.streaming import StreamingListener
        >>> class Completed(StreamingListener):
        ...     def onBatchCompleted(self, batchCompleted): print("never printed")
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     listener = Completed(); ssc.addStreamingListener(listener)
        ...     ssc.removeStreamingListener(listener)
        ...     run_batches(ssc, ssc.queueStream([[1]]), 1)
        [[1]]
        """
        self._bus.remove(streamingListener)

    # ------------------------------------------------------------------ inputs
    def queueStream(self, rdds: Iterable[RDD[T] | Iterable[T]], oneAtATime: bool = True,
                    default: RDD[T] | Iterable[T] | None = None) -> DStream[T]:
        """A stream of the given RDDs (or lists, parallelized), one per batch by default.

        Empty batches have PySpark's partition counts: a queued ``[]`` is ``parallelize([])``
        (``defaultParallelism`` partitions); a batch after the queue is exhausted, without a
        ``default``, is ``emptyRDD()`` (no partitions, so ``count()`` gives nothing for it).
        An empty list as ``default`` is no default, as in PySpark. (Deliberately unlike PySpark,
        an empty ``rdds`` with a ``default`` starts with the default: PySpark queues one empty
        batch first, a side effect of how it checks serializers.)

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     run_batches(ssc, ssc.queueStream([["a"], ["b"]]), 3)
        [['a'], ['b'], []]
        """
        if not isinstance(default, RDD):
            # PySpark tests ``if default``: an empty list is no default at all
            default = self._sc.parallelize(default) if default else None
        converted = [r if isinstance(r, RDD) else self._sc.parallelize(r) for r in rdds]
        return QueueInputDStream(self, converted, oneAtATime, default)

    def union(self, *dstreams: DStream[T]) -> DStream[T]:
        """>>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     run_batches(ssc, ssc.union(ssc.queueStream([[1]]), ssc.queueStream([[2]])), 1)
        [[1, 2]]
        """
        self._check_streams(dstreams, "union")
        if len(dstreams) == 1:
            return dstreams[0]
        return UnionDStream(self, list(dstreams))

    @overload
    def transform(self, dstreams: Iterable[DStream[Any]],
                  transformFunc: Callable[[tuple[RDD[Any], ...]], RDD[U]]) -> DStream[U]: ...
    @overload
    def transform(self, dstreams: Iterable[DStream[Any]],
                  transformFunc: Callable[[datetime, tuple[RDD[Any], ...]], RDD[U]]) -> DStream[U]: ...

    def transform(self, dstreams: Iterable[DStream[Any]],
                  transformFunc: Callable[..., RDD[U]]) -> DStream[U]:
        """``transformFunc(rdds)`` or ``transformFunc(time, rdds)`` over several streams;
        ``rdds`` holds one RDD per stream, in the order of ``dstreams``.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     a, b = ssc.queueStream([[1]]), ssc.queueStream([[2]])
        ...     run_batches(ssc, ssc.transform([a, b], lambda rdds: rdds[1].union(rdds[0])), 1)
        [[2, 1]]
        """
        streams = list(dstreams)
        self._check_streams(streams, "transform")
        check_function("StreamingContext.transform", "transformFunc", transformFunc)
        func = adapt_time_func(transformFunc, 1, "StreamingContext.transform")
        return MultiTransformedDStream(self, streams, func, "transform")._user(transformFunc)

    def _check_streams(self, dstreams: Any, op: str) -> None:
        """Several streams combined: at least one, all DStreams of this context, one slide."""
        if not dstreams:
            raise ValueError(f"{op}: should have at least one DStream")
        for d in dstreams:
            if not isinstance(d, DStream):
                raise TypeError(f"{op} takes DStreams, got {type(d).__name__}")
            if d._ssc is not self:
                raise ValueError(f"{op}: {d.id} belongs to another StreamingContext")
        if len({d.slide_ms for d in dstreams}) > 1:
            raise ValueError(f"{op}: all DStreams should have same slide duration; got "
                             + ", ".join(f"{d.id}: {d.slide_ms / 1000:g} s" for d in dstreams))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start receiving and processing. Starting an active context again only warns.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import advance_batch
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     ssc.queueStream([[1, 2]]).foreachRDD(lambda rdd: print(rdd.collect()))
        ...     ssc.start(); ssc.start()          # the second call only logs a warning
        ...     _ = advance_batch(ssc); ssc.stop(False)
        [1, 2]
        """
        with _active_lock:
            if self._state == _ACTIVE:
                log.warning("StreamingContext has already been started")
                return
            if self._state == _STOPPED:
                raise ContextStateError("StreamingContext has already been stopped; create a new one")
            active = StreamingContext._activeContext
            if active is not None and active is not self:
                raise ContextStateError("Only one StreamingContext may be started in this process; "
                                        "stop() the running one first")
            self._sc._check_running()
            recovery = self._open_checkpoints()
            first = self._scheduler_first_time()
            if recovery is not None:
                first = recovery.meta["time_ms"] + self._batch_ms
                zero = recovery.meta["zero_time_ms"]
                if recovery.discard_state(self) or (first - zero) % self._batch_ms:
                    zero = first - self._batch_ms       # a fresh start: nothing before counts
            else:
                zero = first - self._batch_ms
            if self._checkpoints is not None and recovery_mode(self._sc._conf) == "restore":
                manager = self._checkpoints.manager
                save_graph(self, manager.store, manager.signer, manager.location)
            self._graph.start(zero)
            self._zero_time_ms = zero
            if self._checkpoints is not None:
                self._checkpoints.start()
            if recovery is not None and self._checkpoints is not None:
                self._recover_from(recovery, self._checkpoints)
            self._bus.start()
            for stream in self._graph.inputs:
                stream.start()
            self._receiver_tracker.start()
            self._scheduler.start(first)
            self._state = _ACTIVE
            StreamingContext._activeContext = self
            if self._sc._conf.getBoolean(GRACEFUL_ON_SHUTDOWN, False):
                self._shutdown_hook = GracefulShutdown(self)
                self._shutdown_hook.install()
        self._bus.post("onStreamingStarted", time_ms=self._clock.now_ms())

    def _open_checkpoints(self) -> Recovery | None:
        """Open the checkpoint store (when there is one); the saved metadata to recover from."""
        location = self._checkpoint_location_in_use()
        wal = self._sc._conf.getBoolean("dstream.streaming.receiver.writeAheadLog.enable", False)
        if location is None:
            if wal:
                raise ValueError("the write-ahead log (dstream.streaming.receiver.writeAheadLog."
                                 "enable) needs a checkpoint location: call ssc.checkpoint(...)")
            return None
        if self._checkpoints is None:
            self._checkpoints = StreamCheckpoints(self, location)
            self._receiver_tracker.use_log(self._checkpoints.manager.wal, self._checkpoints.manager.signer)
        if not self._recover:
            return None
        return Recovery.load(self._checkpoints.manager)

    def _recover_from(self, recovery: Recovery, checkpoints: StreamCheckpoints) -> None:
        keys = checkpoints.keys()
        keep_state = recovery.check_compatible(self, keys)
        if keep_state:
            recovery.restore_state(self, checkpoints, keys)
        recovery.restore_sources(self)
        recovery.restore_blocks(self, checkpoints.manager, keep_batches=keep_state)
        self._recovered = {"time_ms": recovery.meta["time_ms"], "replayed": dict(recovery.replayed),
                           "state_restored": keep_state}
        self._bus.post("onRecoveryCompleted", time_ms=recovery.meta["time_ms"],
                       checkpoint=checkpoints.manager.health()["location"],
                       replayed=dict(recovery.replayed), state_restored=keep_state)

    def checkpointHealth(self) -> dict[str, Any] | None:
        """Beyond PySpark: the checkpoint figures of this context as plain data (None without
        a checkpoint location): metadata checkpoints written, failures (in all and in a row),
        the last error, the age of the last checkpoint and its bounds (conf
        ``dstream.streaming.checkpoint.maxAge`` and ``.stopAfter``), and the recovery this
        context started with (``recovery``: the checkpoint's batch time and the logged blocks
        by fate), if any.

        >>> from dstream import Context, StreamingContext
        >>> with Context("local") as ctx:
        ...     print(StreamingContext(ctx, 1, clock="manual").checkpointHealth())
        None
        """
        if self._checkpoints is None:
            return None
        return {**self._checkpoints.manager.health(), "recovery": self._recovered}

    def _scheduler_first_time(self) -> int:
        return (self._clock.now_ms() // self._batch_ms + 1) * self._batch_ms

    def stop(self, stopSparkContext: bool = True, stopGraceFully: bool = False) -> None:
        """Stop; graceful: receivers stop, the data they received is processed, source offsets
        are committed and the last checkpoint written. Safe to call twice.

        >>> from dstream import Context, StreamingContext
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     ssc.queueStream([[1]]).foreachRDD(lambda rdd: None)
        ...     ssc.start(); ssc.stop(stopSparkContext=False); ssc.stop(stopSparkContext=False)
        ...     ssc.getState(), ctx.parallelize([1, 2]).count()    # the Context is still usable
        ('STOPPED', 2)
        """
        for _name, phase in self.stop_phases(stopGraceFully):
            phase()
        if stopSparkContext:
            self._sc.stop()

    def stop_phases(self, stopGraceFully: bool = True) -> list[tuple[str, Callable[[], None]]]:
        """The steps of ``stop``, in order, for a caller that runs each with its own time limit
        (the daemon). Calling this already marks the context stopped; run every step.

        >>> from dstream import Context, StreamingContext
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     ssc.queueStream([[1]]).foreachRDD(lambda rdd: None); ssc.start()
        ...     for name, phase in ssc.stop_phases(stopGraceFully=False):
        ...         phase(); print(name)
        stop the receivers (what they buffered becomes a last block)
        stop the batch clock
        commit source offsets and write the last checkpoint
        deliver the last listener events
        mark the context stopped
        """
        with _active_lock:
            if self._state == _STOPPED:
                return []
            was_active = self._state == _ACTIVE
            self._state = _STOPPED
            self._graph.stopped = True
            if StreamingContext._activeContext is self:
                StreamingContext._activeContext = None
        if self._shutdown_hook is not None:
            self._shutdown_hook.uninstall()
        timeout = self._sc._conf.getSeconds("dstream.streaming.stopTimeout", 60.0)
        phases = []
        if was_active:
            phases = [
                ("stop the receivers (what they buffered becomes a last block)",
                 lambda: self._stop_inputs(stopGraceFully, timeout)),
                ("process the data already received" if stopGraceFully else "stop the batch clock",
                 lambda: self._stop_batches(stopGraceFully, timeout)),
                ("commit source offsets and write the last checkpoint",
                 lambda: self._stop_checkpoints(timeout)),
                ("deliver the last listener events", self._stop_bus),
            ]
        return phases + [("mark the context stopped", self._notify_stopped)]

    def _stop_inputs(self, graceful: bool, timeout: float) -> None:
        self._receiver_tracker.stop(graceful, timeout)
        for stream in self._graph.inputs:
            stream.stop()

    def _stop_batches(self, graceful: bool, timeout: float) -> None:
        if not self._scheduler.stop(graceful, timeout, self._receiver_tracker.tracker.has_unallocated):
            log.warning("stop: a batch was still running after %s s", timeout)
        self._sc._scheduler.stop_running_ahead()
        self._graph.close_outputs()

    def _stop_checkpoints(self, timeout: float) -> None:
        if self._checkpoints is not None and not self._checkpoints.stop(timeout):
            log.warning("stop: the last checkpoint was not written within %s s", timeout)

    def _stop_bus(self) -> None:
        self._bus.wait_until_empty(5.0)
        self._bus.stop()

    def _notify_stopped(self) -> None:
        with self._waiter:
            self._waiter.notify_all()

    def awaitTermination(self, timeout: float | None = None) -> None:
        """Wait until stopped (or ``timeout`` seconds); raise the first error a batch raised.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import advance_batch
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     ssc.queueStream([[0]]).map(lambda x: 1 // x).foreachRDD(lambda rdd: rdd.count())
        ...     ssc.start(); _ = advance_batch(ssc); ssc.stop(False)
        ...     try:
        ...         ssc.awaitTermination()
        ...     except ZeroDivisionError as error:
        ...         print("the batch failed:", error)
        the batch failed: integer division or modulo by zero
        """
        check_timeout("StreamingContext.awaitTermination", "timeout", timeout)
        self.awaitTerminationOrTimeout(timeout)

    def awaitTerminationOrTimeout(self, timeout: float | None) -> bool:
        """True if the context stopped within ``timeout`` seconds. Once a batch has failed,
        raises that error (the latest one), every time it is called, as Spark does.

        >>> from dstream import Context, StreamingContext
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     ssc.queueStream([[1]]).foreachRDD(lambda rdd: None)
        ...     ssc.start(); running = ssc.awaitTerminationOrTimeout(0.01); ssc.stop(False)
        ...     running, ssc.awaitTerminationOrTimeout(0.01)
        (False, True)
        """
        check_timeout("StreamingContext.awaitTerminationOrTimeout", "timeout", timeout)
        with self._waiter:
            self._waiter.wait_for(lambda: self._state == _STOPPED or self._error is not None, timeout)
            if self._error is not None:
                raise self._error
            return self._state == _STOPPED

    def _fail_from_receiver(self, stream_id: int, error: BaseException) -> None:
        """A receiver's configuration can never work: stop the context (in another thread: this
        one is the receiver's) with ``error``, which ``awaitTermination`` raises."""
        log.error("receiver of stream %d failed for good, stopping the streaming context: %s",
                  stream_id, error)

        def stop() -> None:
            phases = self.stop_phases(stopGraceFully=False)     # the state is STOPPED from here
            with self._waiter:
                self._error = error          # rather than an earlier batch's: it ended the context
            for _name, phase in phases:
                phase()
            with self._waiter:
                self._waiter.notify_all()

        threading.Thread(target=stop, name=f"dstream-stop-after-receiver-{stream_id}",
                         daemon=True).start()

    def _report_error(self, error: BaseException) -> None:
        # one line here; the traceback goes with the error, which awaitTermination raises
        # (printed once, where the program lets it end or logs it)
        log.error("a batch failed: %s: %s (awaitTermination raises it, with its traceback)",
                  type(error).__name__, error)
        with self._waiter:
            self._error = error
            self._waiter.notify_all()

    # ------------------------------------------------------------------ per batch
    def _after_batch(self, jobset: JobSet) -> None:
        succeeded = jobset.error is None and not jobset.info.failed
        commits = self._source_commits(jobset.time_ms) if succeeded else None
        if self._checkpoints is not None:
            # offsets are committed in the same step as the checkpoint, once it is written
            self._checkpoints.after_batch(jobset.time_ms, succeeded, commits)
        elif commits is not None:
            commits()
        if succeeded:
            self._receiver_tracker.release_done(jobset.time_ms)
        self._graph.clear_metadata(jobset.time_ms)

    def _source_commits(self, time_ms: int) -> Callable[[], None] | None:
        """Receivers' and direct streams' offset commits for a batch whose outputs succeeded."""
        pending = [self._receiver_tracker.source_commits(time_ms)]
        pending += [s.source_commits(time_ms) for s in self._graph.inputs if hasattr(s, "source_commits")]
        commits = [c for c in pending if c is not None]
        if not commits:
            return None

        def commit_all() -> None:
            for commit in commits:
                commit()
        return commit_all

    def _note_checkpoint_due(self, stream: DStream[T], time_ms: int, rdd: RDD[T]) -> None:
        if self._checkpoints is not None:
            self._checkpoints.note_due(stream, time_ms, rdd)


def _make_clock(clock: Clock | str | None) -> Clock:
    if clock is None or clock == "system":
        return SystemClock()
    if clock == "manual":
        return ManualClock()
    if isinstance(clock, Clock):
        return clock
    raise ValueError(f"unknown clock {clock!r}: use 'system', 'manual' or a Clock instance")


def _checked_setup(setupFunc: Callable[[], StreamingContext]) -> StreamingContext:
    ssc = setupFunc()
    if not isinstance(ssc, StreamingContext):
        raise TypeError(f"setupFunc must return a StreamingContext, got {type(ssc).__name__}")
    return ssc
