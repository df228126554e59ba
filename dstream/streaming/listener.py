"""Streaming listener events, batch statistics, and the bus that delivers them.

Events go through a queue to a thread of their own, so a slow listener never delays a
batch. ``BatchInfo`` has PySpark's accessor names (``batchInfo.totalDelay()``) and plain
attributes for the service.

>>> info = BatchInfo(batch_time_ms=2000, submission_time_ms=2000, num_records=5)
>>> info.batchTime().milliseconds(), info.schedulingDelay(), info.numRecords()
(2000, None, 5)
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["StreamingListener", "BatchInfo", "EventTimeInfo", "OutputOperationInfo", "ReceiverInfo", "Time",
           "ListenerBus", "BatchHistory"]

log = logging.getLogger(__name__)


class Time:
    """A batch time in milliseconds, with Spark's accessor."""

    __slots__ = ("ms",)

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def milliseconds(self) -> int:
        return self.ms

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Time) and other.ms == self.ms

    def __hash__(self) -> int:
        return hash(self.ms)

    def __repr__(self) -> str:
        return f"{self.ms} ms"


@dataclass(slots=True)
class OutputOperationInfo:
    """One output operation (foreachRDD, pprint, ...) of one batch."""

    batch_time_ms: int
    id: int
    name: str
    description: str
    start_time_ms: int | None = None
    end_time_ms: int | None = None
    failure_reason: str | None = None

    def batchTime(self) -> Time:
        return Time(self.batch_time_ms)

    def startTime(self) -> int | None:
        return self.start_time_ms

    def endTime(self) -> int | None:
        return self.end_time_ms

    def failureReason(self) -> str | None:
        return self.failure_reason

    def duration(self) -> int | None:
        if self.start_time_ms is None or self.end_time_ms is None:
            return None
        return self.end_time_ms - self.start_time_ms


@dataclass(slots=True)
class EventTimeInfo:
    """An event-time windowed operator after one batch (beyond PySpark).

    >>> EventTimeInfo("clicks", 5000, 2, 7).late_records
    2
    """

    #: id of the event-time stream the operator reads
    events_id: str
    #: the watermark after the batch (ms since the epoch), None before any record
    watermark_ms: int | None
    #: records of this batch left out as late
    late_records: int
    #: windows (or sessions) open after the batch
    open_windows: int


@dataclass(slots=True)
class BatchInfo:
    """Timings of one batch (all in ms); delays are None until known."""

    batch_time_ms: int
    submission_time_ms: int
    processing_start_time_ms: int | None = None
    processing_end_time_ms: int | None = None
    num_records: int = 0
    #: records per input stream id
    input_records: dict[int, int] = field(default_factory=dict)
    output_operations: dict[int, OutputOperationInfo] = field(default_factory=dict)
    #: event-time windowed operators, by operator id (beyond PySpark)
    event_time: dict[str, EventTimeInfo] = field(default_factory=dict)
    #: per input stream id, what it read (a Kafka direct stream: ``offsetRanges``, as Spark's
    #: ``StreamInputInfo.metadata``)
    input_metadata: dict[int, dict[str, Any]] = field(default_factory=dict)

    # PySpark / Spark accessors
    def batchTime(self) -> Time:
        return Time(self.batch_time_ms)

    def submissionTime(self) -> int:
        return self.submission_time_ms

    def processingStartTime(self) -> int | None:
        return self.processing_start_time_ms

    def processingEndTime(self) -> int | None:
        return self.processing_end_time_ms

    def numRecords(self) -> int:
        return self.num_records

    def schedulingDelay(self) -> int | None:
        if self.processing_start_time_ms is None:
            return None
        return self.processing_start_time_ms - self.submission_time_ms

    def processingDelay(self) -> int | None:
        if self.processing_start_time_ms is None or self.processing_end_time_ms is None:
            return None
        return self.processing_end_time_ms - self.processing_start_time_ms

    def totalDelay(self) -> int | None:
        """Scheduling delay plus processing time, as Spark defines it: from the batch's
        submission to its end (a batch run ahead of its time by a graceful stop's drain is not
        given a negative delay)."""
        scheduling, processing = self.schedulingDelay(), self.processingDelay()
        if scheduling is None or processing is None:
            return None
        return scheduling + processing

    def outputOperationInfos(self) -> dict[int, OutputOperationInfo]:
        return self.output_operations

    def streamIdToInputInfo(self) -> dict[int, int]:
        return self.input_records

    @property
    def failed(self) -> bool:
        return any(op.failure_reason for op in self.output_operations.values())

    def copy(self) -> BatchInfo:
        clone = dataclasses.replace(self)
        clone.input_records = dict(self.input_records)
        clone.event_time = dict(self.event_time)
        clone.input_metadata = {k: dict(v) for k, v in self.input_metadata.items()}
        clone.output_operations = {k: dataclasses.replace(v) for k, v in self.output_operations.items()}
        return clone


@dataclass
class ReceiverInfo:
    """State of one receiver, as reported in receiver events."""

    stream_id: int
    name: str
    active: bool = True
    location: str = "driver"
    last_error_message: str = ""
    last_error: str = ""
    last_error_time_ms: int | None = None
    #: ``transient`` (the receiver goes on or restarts) or ``fatal`` (it stopped the context)
    last_error_kind: str = ""
    #: error events so far: transient ones and fatal ones; restarts with backoff
    transient_errors: int = 0
    fatal_errors: int = 0
    restarts: int = 0

    def streamId(self) -> int:
        return self.stream_id

    def lastErrorMessage(self) -> str:
        return self.last_error_message

    def lastError(self) -> str:
        return self.last_error


class _Event:
    """An event object with PySpark's accessors (``batchInfo()``, ``receiverInfo()``...)."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)

    def batchInfo(self) -> BatchInfo:
        info: BatchInfo = self.__dict__["batch_info"]
        return info

    def receiverInfo(self) -> ReceiverInfo:
        info: ReceiverInfo = self.__dict__["receiver_info"]
        return info

    def outputOperationInfo(self) -> OutputOperationInfo:
        info: OutputOperationInfo = self.__dict__["output_operation_info"]
        return info

    def time(self) -> int:
        time_ms: int = self.__dict__["time_ms"]
        return time_ms


class StreamingListener:
    """Override the callbacks you need (PySpark's ``StreamingListener``).

    Every event the engine posts has a callback here that does nothing, so a listener only
    defines what it wants. Beyond PySpark: ``onReceiverBadRecord``, ``onCheckpointWritten``,
    ``onCheckpointError`` and ``onRecoveryCompleted``. Each event object carries the named
    fields below as attributes.

    >>> bus = ListenerBus(); bus.add(StreamingListener()); bus.start()
    >>> bus.post("onCheckpointError", time_ms=1000, error="OSError: disk full", consecutive_failures=1)
    >>> bus.wait_until_empty(), bus.stop()
    (True, None)
    """

    def onStreamingStarted(self, streamingStarted: Any) -> None:
        """The context started (``time()``)."""

    def onReceiverStarted(self, receiverStarted: Any) -> None:
        """A receiver started (``receiverInfo()``)."""

    def onReceiverError(self, receiverError: Any) -> None:
        """A receiver reported an error (``receiverInfo()`` has its last error)."""

    def onReceiverStopped(self, receiverStopped: Any) -> None:
        """A receiver stopped (``receiverInfo()``)."""

    def onReceiverBadRecord(self, receiverBadRecord: Any) -> None:
        """A receiver dropped or repaired a record (beyond PySpark): undecodable, too long...
        (``receiverInfo()``, ``details``)."""

    def onBatchSubmitted(self, batchSubmitted: Any) -> None:
        """A batch was generated and queued (``batchInfo()``)."""

    def onBatchStarted(self, batchStarted: Any) -> None:
        """A batch started running (``batchInfo()``)."""

    def onBatchCompleted(self, batchCompleted: Any) -> None:
        """A batch finished, its output operations succeeded or failed (``batchInfo()``)."""

    def onOutputOperationStarted(self, outputOperationStarted: Any) -> None:
        """An output operation of a batch started (``outputOperationInfo()``)."""

    def onOutputOperationCompleted(self, outputOperationCompleted: Any) -> None:
        """An output operation of a batch ended (``outputOperationInfo()``)."""

    def onCheckpointWritten(self, checkpointWritten: Any) -> None:
        """A checkpoint was written (beyond PySpark): ``time_ms`` (its batch), ``metadata``
        (False for state saved after a failed batch, which no metadata refers to yet),
        ``duration_ms``."""

    def onCheckpointError(self, checkpointError: Any) -> None:
        """Writing a checkpoint failed and will be retried (beyond PySpark): ``time_ms``,
        ``error`` (type and message), ``consecutive_failures``."""

    def onRecoveryCompleted(self, recoveryCompleted: Any) -> None:
        """The context recovered from a checkpoint (beyond PySpark): ``time_ms`` (the batch of
        the checkpoint), ``checkpoint`` (its location), ``replayed`` (blocks of the write-ahead
        log by fate: ``batch``, ``settled``, ``new``, ``duplicate``), ``state_restored``."""


class ListenerBus:
    """Delivers events to listeners in order, on the bus's own thread."""

    def __init__(self) -> None:
        self._listeners: list[StreamingListener] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, _Event] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition()
        self._pending = 0

    def add(self, listener: StreamingListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove(self, listener: StreamingListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="dstream-listener-bus", daemon=True)
            self._thread.start()

    def post(self, callback: str, **fields: Any) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put((callback, _Event(**fields)))

    def wait_until_empty(self, timeout: float = 10.0) -> bool:
        """Block until every posted event has been delivered."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            callback, event = item
            with self._lock:
                listeners = list(self._listeners)
            for listener in listeners:
                method = getattr(listener, callback, None)
                if method is None:      # a listener that does not subclass StreamingListener
                    continue
                try:
                    method(event)
                except Exception:
                    log.exception("streaming listener %r failed in %s", listener, callback)
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()


class BatchHistory(StreamingListener):
    """The last ``retained`` completed batches and the running totals, for the service."""

    def __init__(self, retained: int = 1000) -> None:
        self._lock = threading.Lock()
        self.completed: deque[BatchInfo] = deque(maxlen=retained)
        self.active: dict[int, BatchInfo] = {}
        self.total_completed = 0
        self.total_failed = 0
        self.total_records = 0
        self.receivers: dict[int, ReceiverInfo] = {}
        self.start_time_ms: int | None = None
        #: event-time operator id -> its report after the last batch, and its late records so far
        self.event_time: dict[str, EventTimeInfo] = {}
        self.late_totals: dict[str, int] = {}

    def onStreamingStarted(self, event: Any) -> None:
        self.start_time_ms = event.time()

    def onBatchSubmitted(self, event: Any) -> None:
        info = event.batchInfo()
        with self._lock:
            self.active[info.batch_time_ms] = info

    def onBatchStarted(self, event: Any) -> None:
        self.onBatchSubmitted(event)

    def onBatchCompleted(self, event: Any) -> None:
        info = event.batchInfo()
        with self._lock:
            self.active.pop(info.batch_time_ms, None)
            self.completed.append(info)
            self.total_completed += 1
            self.total_failed += int(info.failed)
            self.total_records += info.num_records
            for op, report in info.event_time.items():
                self.event_time[op] = report
                self.late_totals[op] = self.late_totals.get(op, 0) + report.late_records

    def onReceiverStarted(self, event: Any) -> None:
        info = event.receiverInfo()
        with self._lock:
            self.receivers[info.stream_id] = info

    # the same handler (StreamingListener names the event parameter after each event)
    onReceiverError = onReceiverStarted  # type: ignore[assignment]
    onReceiverStopped = onReceiverStarted  # type: ignore[assignment]

    def snapshot(self) -> tuple[list[BatchInfo], list[BatchInfo]]:
        """(completed batches oldest first, active batches) as copies."""
        with self._lock:
            return list(self.completed), list(self.active.values())
