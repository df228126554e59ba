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
from typing import Any, Callable

from ..context import Context
from ..errors import ContextStateError
from ..rdd import RDD
from .clock import Clock, ManualClock, SystemClock
from .dstream import DStream, MultiTransformedDStream, UnionDStream, adapt_time_func
from .durations import to_ms
from .graph import DStreamGraph
from .input_streams import InputStreams
from .inputs import QueueInputDStream
from .listener import BatchHistory, ListenerBus, StreamingListener
from .receiver_input import ReceiverTracker
from .recovery import Recovery, StreamCheckpoints
from .scheduler import JobScheduler

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

    def __init__(self, sparkContext: Context, batchDuration: float | None = None,
                 jssc: Any = None, *, clock: Clock | str | None = None) -> None:
        if not isinstance(sparkContext, Context):
            raise TypeError(f"StreamingContext needs a Context, got {type(sparkContext).__name__}")
        if batchDuration is None:
            raise ValueError("StreamingContext needs batchDuration (seconds)")
        self._sc = sparkContext
        self._batch_ms = to_ms(batchDuration, "batchDuration")
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
        self._checkpoint_dir: str | None = None
        self._checkpoint_location: str | None = None
        self._checkpoints: StreamCheckpoints | None = None
        self._recover = False
        self._recovered: dict[str, Any] | None = None
        self._zero_time_ms: int | None = None
        self._waiter = threading.Condition()
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ properties
    @property
    def sparkContext(self) -> Context:
        return self._sc

    @property
    def batch_duration_ms(self) -> int:
        return self._batch_ms

    def getState(self) -> str:
        return self._state

    @classmethod
    def getActive(cls) -> StreamingContext | None:
        with _active_lock:
            return cls._activeContext

    @classmethod
    def getActiveOrCreate(cls, checkpointPath: str | None,
                          setupFunc: Callable[[], StreamingContext]) -> StreamingContext:
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
        operators keep their ids (see ``DStream.name``).
        """
        ssc = _checked_setup(setupFunc)
        if ssc._checkpoint_location is None:
            ssc.checkpoint(checkpointPath)
        ssc._recover = True
        return ssc

    # ------------------------------------------------------------------ configuration
    def remember(self, duration: float) -> None:
        """Keep each stream's RDDs at least ``duration`` seconds (for ad-hoc queries)."""
        self._graph.check_can_define("remember")
        self._graph.remember(to_ms(duration, "remember duration"))

    def checkpoint(self, directory: str) -> None:
        """Where metadata and state checkpoints go (needed by stateful operators): a directory
        (the embedded default) or a ``redis://host:port/db?prefix=app`` URL."""
        if not isinstance(directory, str) or not directory:
            raise ValueError(f"checkpoint needs a directory or a redis:// URL, got {directory!r}")
        if "://" in directory and not directory.startswith("file://"):
            self._checkpoint_location = directory
            return
        path = directory[len("file://"):] if directory.startswith("file://") else directory
        os.makedirs(path, exist_ok=True)
        self._checkpoint_dir = self._checkpoint_location = os.path.abspath(path)
        self._sc.setCheckpointDir(os.path.join(self._checkpoint_dir, "rdd"))

    def _checkpoint_target(self) -> str | None:
        """Where this context checkpoints: ``checkpoint()``'s location, else the Context's
        checkpoint directory."""
        return self._checkpoint_location or self._sc.getCheckpointDir()

    def addStreamingListener(self, streamingListener: StreamingListener) -> None:
        if not isinstance(streamingListener, StreamingListener):
            raise TypeError("addStreamingListener takes a StreamingListener subclass instance")
        self._bus.add(streamingListener)

    def removeStreamingListener(self, streamingListener: StreamingListener) -> None:
        self._bus.remove(streamingListener)

    # ------------------------------------------------------------------ inputs
    def queueStream(self, rdds: list[Any], oneAtATime: bool = True, default: Any = None) -> DStream:
        """A stream of the given RDDs (or lists, parallelized), one per batch by default.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     run_batches(ssc, ssc.queueStream([["a"], ["b"]]), 3)
        [['a'], ['b'], []]
        """
        if default is not None and not isinstance(default, RDD):
            default = self._sc.parallelize(default)
        converted = [r if isinstance(r, RDD) else self._sc.parallelize(r) for r in rdds]
        return QueueInputDStream(self, converted, oneAtATime, default)

    def union(self, *dstreams: DStream) -> DStream:
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

    def transform(self, dstreams: list[DStream], transformFunc: Callable[..., RDD]) -> DStream:
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
        dstreams = list(dstreams)
        self._check_streams(dstreams, "transform")
        func = adapt_time_func(transformFunc, 1, "transform")
        return MultiTransformedDStream(self, dstreams, func, "transform")._user(transformFunc)

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
        """Start receiving and processing. Starting an active context again only warns."""
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
        self._bus.post("onStreamingStarted", time_ms=self._clock.now_ms())

    def _open_checkpoints(self) -> Recovery | None:
        """Open the checkpoint store (when there is one); the saved metadata to recover from."""
        location = self._checkpoint_target()
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
        are committed and the last checkpoint written. Safe to call twice."""
        for _name, phase in self.stop_phases(stopGraceFully):
            phase()
        if stopSparkContext:
            self._sc.stop()

    def stop_phases(self, stopGraceFully: bool = True) -> list[tuple[str, Callable[[], None]]]:
        """The steps of ``stop``, in order, for a caller that runs each with its own time limit
        (the daemon). Calling this already marks the context stopped; run every step."""
        with _active_lock:
            if self._state == _STOPPED:
                return []
            was_active = self._state == _ACTIVE
            self._state = _STOPPED
            self._graph.stopped = True
            if StreamingContext._activeContext is self:
                StreamingContext._activeContext = None
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
        """Wait until stopped (or ``timeout`` seconds); raise the first error a batch raised."""
        self.awaitTerminationOrTimeout(timeout)

    def awaitTerminationOrTimeout(self, timeout: float | None) -> bool:
        """True if the context stopped within ``timeout`` seconds. Once a batch has failed,
        raises that error (the latest one), every time it is called, as Spark does."""
        with self._waiter:
            self._waiter.wait_for(lambda: self._state == _STOPPED or self._error is not None, timeout)
            if self._error is not None:
                raise self._error
            return self._state == _STOPPED

    def _report_error(self, error: BaseException) -> None:
        log.error("batch failed: %s", error, exc_info=error)
        with self._waiter:
            self._error = error
            self._waiter.notify_all()

    # ------------------------------------------------------------------ per batch
    def _after_batch(self, jobset: Any) -> None:
        succeeded = jobset.error is None and not jobset.info.failed
        commits = self._receiver_tracker.source_commits(jobset.time_ms) if succeeded else None
        if self._checkpoints is not None:
            # offsets are committed in the same step as the checkpoint, once it is written
            self._checkpoints.after_batch(jobset.time_ms, succeeded, commits)
        elif commits is not None:
            commits()
        self._graph.clear_metadata(jobset.time_ms)

    def _note_checkpoint_due(self, stream: DStream, time_ms: int, rdd: RDD) -> None:
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
