"""A read-only view of a running StreamingContext, for the HTTP app and the metrics.

``ContextView`` reads what the context's ``BatchHistory`` keeps (retained batches,
totals, receivers) and takes consistent ``Snapshot``s of it; it also lets the app
observe listener events (metrics histograms), but never changes the context.

>>> from dstream import Context, StreamingContext
>>> from dstream.streaming.testing import advance_batch
>>> with Context("local") as ctx:
...     ssc = StreamingContext(ctx, 1, clock="manual")
...     ssc.queueStream([[1, 2], [3]]).foreachRDD(lambda rdd: None)
...     view = ContextView(ssc)
...     ssc.start()
...     _ = advance_batch(ssc), advance_batch(ssc), view.wait_for_events()
...     snap = view.snapshot()
...     ssc.stop(stopSparkContext=False)
>>> snap.total_completed, [b.batch_time_ms for b in snap.completed], snap.batch_duration_ms
(2, [1000, 2000], 1000)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dstream.streaming.listener import BatchInfo, EventTimeInfo, ReceiverInfo, StreamingListener

if TYPE_CHECKING:
    from dstream import StreamingContext

__all__ = ["Snapshot", "ContextView"]


@dataclass(frozen=True)
class Snapshot:
    """Everything the app shows, read at one instant (copies: safe to keep)."""

    app_name: str
    state: str
    batch_duration_ms: int
    now_ms: int
    start_time_ms: int | None
    #: retained completed batches, oldest first
    completed: list[BatchInfo]
    #: queued and processing batches, oldest first
    active: list[BatchInfo]
    total_completed: int
    total_failed: int
    #: records of every completed batch (not only the retained ones)
    total_records: int
    receivers: dict[int, ReceiverInfo]
    #: stream id -> stream name, for every receiver input stream of the graph
    receiver_streams: dict[int, str]
    #: stream id -> reason -> count of records receivers dropped or repaired
    bad_records: dict[int, dict[str, int]] = field(default_factory=dict)
    #: event-time operator id -> (its report after the last batch, late records so far)
    event_time: dict[str, tuple[EventTimeInfo, int]] = field(default_factory=dict)
    #: checkpoint figures (``StreamingContext.checkpointHealth()``); None without checkpoints
    checkpoint: dict[str, Any] | None = None

    @property
    def received_records(self) -> int:
        """Records of every batch submitted so far (completed or not): Spark's numReceivedRecords."""
        return self.total_records + sum(b.num_records for b in self.active)

    @property
    def retained(self) -> list[BatchInfo]:
        """Active and retained completed batches, as Spark's ``retainedBatches``."""
        return self.completed + self.active

    def lag_ms(self) -> int:
        """How old the oldest unfinished batch is (0 when none is waiting or running)."""
        if not self.active:
            return 0
        return max(0, self.now_ms - min(b.batch_time_ms for b in self.active))


class _BadRecords(StreamingListener):
    """Counts records receivers rejected, by stream and reason, from ``onReceiverBadRecord``.

    A receiver's supervisor rate-limits these events but puts its running totals by reason
    (``bad_records``) in each, so the counts catch up with every event that arrives."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[int, dict[str, int]] = {}

    def onReceiverBadRecord(self, receiverBadRecord: Any) -> None:
        info = receiverBadRecord.receiverInfo()
        details = getattr(receiverBadRecord, "details", None) or {}
        totals = details.get("bad_records")
        with self._lock:
            per_stream = self.counts.setdefault(info.stream_id, {})
            if isinstance(totals, dict):
                for reason, total in totals.items():
                    per_stream[str(reason)] = max(per_stream.get(str(reason), 0), int(total))
            else:
                reason = str(details.get("reason", "bad_record"))
                per_stream[reason] = (per_stream.get(reason, 0) + 1
                                      + int(details.get("suppressed", 0) or 0))

    def copy(self) -> dict[int, dict[str, int]]:
        with self._lock:
            return {sid: dict(reasons) for sid, reasons in self.counts.items()}


class ContextView:
    """Adapter over a ``StreamingContext``: its batch history, listener bus and clock.

    Make it before the context starts so that listeners added with ``add_listener`` see
    every batch (the daemon does; tests over a manual clock do too).
    """

    def __init__(self, ssc: StreamingContext) -> None:
        self._ssc = ssc
        self._history = ssc._history
        self._bus = ssc._bus
        self._clock = ssc._clock
        self.batch_duration_ms: int = ssc.batch_duration_ms
        self.app_name: str = ssc.sparkContext.appName
        self._bad_records = _BadRecords()
        self._bus.add(self._bad_records)

    def add_listener(self, listener: StreamingListener) -> None:
        """Observe the context's listener events (delivered on the bus thread).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import advance_batch
        >>> from dstream import StreamingListener
        >>> class Completed(StreamingListener):
        ...     def __init__(self):
        ...         self.batch_times = []
        ...     def onBatchCompleted(self, batchCompleted):
        ...         self.batch_times.append(batchCompleted.batchInfo().batchTime().milliseconds())
        >>> completed = Completed()
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     ssc.queueStream([[1, 2, 3], [4]]).foreachRDD(lambda rdd: None)
        ...     view = ContextView(ssc)
        ...     view.add_listener(completed)
        ...     ssc.start()
        ...     _ = advance_batch(ssc), advance_batch(ssc), view.wait_for_events()
        ...     ssc.stop(stopSparkContext=False)
        >>> completed.batch_times
        [1000, 2000]
        """
        self._bus.add(listener)

    def wait_for_events(self, timeout: float = 10.0) -> bool:
        """Block until every event posted so far has reached the listeners (tests use this
        after ``advance_batch``: the batch is done, its events may still be on the bus).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import advance_batch
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     ssc.queueStream([[1, 2]]).foreachRDD(lambda rdd: None)
        ...     view = ContextView(ssc)
        ...     ssc.start()
        ...     _ = advance_batch(ssc)
        ...     view.wait_for_events(timeout=10)
        ...     ssc.stop(stopSparkContext=False)
        True
        """
        return self._bus.wait_until_empty(timeout)

    def state(self) -> str:
        """The context's state, as ``StreamingContext.getState()`` says it.

        >>> from dstream import Context, StreamingContext
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     ssc.queueStream([[1]]).foreachRDD(lambda rdd: None)
        ...     view = ContextView(ssc)
        ...     before = view.state()
        ...     ssc.start()
        ...     during = view.state()
        ...     ssc.stop(stopSparkContext=False)
        ...     before, during, view.state()
        ('INITIALIZED', 'ACTIVE', 'STOPPED')
        """
        return self._ssc.getState()

    def snapshot(self) -> Snapshot:
        """A consistent copy of what the monitoring app shows: retained batches, totals,
        receivers, event-time operators, checkpoint health.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import advance_batch
        >>> with Context("local", "clicks") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     ssc.queueStream([[1, 2, 3], [4]]).foreachRDD(lambda rdd: None)
        ...     view = ContextView(ssc)
        ...     ssc.start()
        ...     _ = advance_batch(ssc), advance_batch(ssc), view.wait_for_events()
        ...     snap = view.snapshot()
        ...     ssc.stop(stopSparkContext=False)
        >>> snap.app_name, snap.state, snap.total_completed, [b.batch_time_ms for b in snap.retained]
        ('clicks', 'ACTIVE', 2, [1000, 2000])
        """
        history = self._history
        with history._lock:
            completed = [b.copy() for b in history.completed]
            active = sorted((b.copy() for b in history.active.values()), key=lambda b: b.batch_time_ms)
            totals = (history.total_completed, history.total_failed, history.total_records)
            receivers = {sid: ReceiverInfo(**vars(info)) for sid, info in history.receivers.items()}
            start = history.start_time_ms
            event_time = {op: (report, history.late_totals.get(op, 0))
                          for op, report in history.event_time.items()}
        streams = {s.stream_id: s.id for s in list(self._ssc._graph.inputs) if hasattr(s, "receiver")}
        return Snapshot(
            app_name=self.app_name, state=self.state(), batch_duration_ms=self.batch_duration_ms,
            now_ms=self._clock.now_ms(), start_time_ms=start, completed=completed, active=active,
            total_completed=totals[0], total_failed=totals[1], total_records=totals[2],
            receivers=receivers, receiver_streams=streams, bad_records=self._bad_records.copy(),
            event_time=event_time, checkpoint=self._ssc.checkpointHealth())
