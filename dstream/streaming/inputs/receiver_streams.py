"""Receiver input streams: receivers run under supervisors, their blocks become batches.

``EngineBlockSink`` is the engine's side of the receivers' contract: a block is written
ahead to the log (when enabled), stored in the block manager at the stream's storage level
(two copies by default: memory plus disk where only one executor holds blocks), and only
then recorded for allocation; ``store_block`` returns after all that, which is when a
reliable receiver may acknowledge its source.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Protocol, TypeVar

from dstream.receivers import Receiver, ReceiverSupervisor, default_block_ids

from ...block_manager import BlockManager
from ...conf import Conf
from ...rdd import RDD
from ...rdd_kinds import BlockRDD
from ...serialization import dumps_data
from ...storagelevel import StorageLevel
from ...taskcontext import Serialized
from ..block_placement import place_block, recovery_of
from ..block_release import lineage_blocks, remembered_rdds, unmade_times
from ..received_blocks import ReceivedBlock, ReceivedBlockTracker
from ..dstream import StreamingContextLike
from ..graph import DStreamGraph
from ..listener import BatchInfo, ListenerBus, ReceiverInfo, StreamingListener
from ..log_records import encode_block
from ..rate import PIDRateEstimator
from ..sinks.batch_offsets import BatchOffsets
from .base import InputDStream

__all__ = ["ReceivingContext", "ReceiverInputDStream", "ReceiverTracker", "EngineBlockSink", "DEFAULT_RECEIVER_LEVEL",
           "ReceiverFailedError"]

log = logging.getLogger(__name__)

DEFAULT_RECEIVER_LEVEL = StorageLevel.MEMORY_AND_DISK_2


class ReceiverFailedError(RuntimeError):
    """A receiver stopped for good (``Receiver.fail``) without an exception of its own."""


T = TypeVar("T")


class ReceivingContext(StreamingContextLike, Protocol):
    """A ``StreamingContext`` as its receiver streams see it: with the receiver tracker, the
    whole graph (to release blocks no stream can read again), and where a receiver that
    failed for good reports."""

    @property
    def _graph(self) -> DStreamGraph: ...
    @property
    def _receiver_tracker(self) -> ReceiverTracker: ...
    def _fail_from_receiver(self, stream_id: int, error: BaseException) -> None: ...


class ReceiverInputDStream(InputDStream[T]):
    """The blocks a receiver stored, cut into one ``BlockRDD`` per batch (one partition a block)."""

    _ssc: ReceivingContext

    def __init__(self, ssc: ReceivingContext, receiver: Receiver, op: str) -> None:
        if not isinstance(receiver, Receiver):
            raise TypeError(f"receiverStream needs a receivers.Receiver, got {type(receiver).__name__}")
        super().__init__(ssc, op)
        self.receiver = receiver
        level = receiver.storageLevel
        self.storage_level_of_blocks = level if isinstance(level, StorageLevel) else DEFAULT_RECEIVER_LEVEL
        ssc._receiver_tracker.register(self)

    def _compute(self, time_ms: int) -> RDD[T] | None:
        blocks = self._ssc._receiver_tracker.tracker.blocks_of(time_ms, self.stream_id)
        source = self.stream_id if self._ssc._receiver_tracker.map_ahead else None
        return BlockRDD(self._sc, [b.block_id for b in blocks], source)

    def kafka_batch_offsets(self, time_ms: int) -> BatchOffsets | None:
        """The Kafka offsets this batch's blocks reached, for a transactional sink to commit
        with its output (``sinks.batch_offsets``). Only with the write-ahead log on: without it
        the blocks die with the driver, and their offsets must wait for the checkpoint."""
        group = getattr(self.receiver, "group_id", None)
        if not isinstance(group, str) or self._ssc._receiver_tracker.sink.wal is None:
            return None
        offsets: dict[tuple[str, int], int] = {}
        for block in self._ssc._receiver_tracker.tracker.blocks_of(time_ms, self.stream_id):
            for partition, offset in (block.metadata.get("kafka_offsets") or {}).items():
                key = (partition[0], partition[1])
                offsets[key] = max(offset, offsets.get(key, 0))
        return BatchOffsets(group, offsets) if offsets else None

    def _on_forget(self, time_ms: int, rdd: RDD[T]) -> None:
        super()._on_forget(time_ms, rdd)
        self._ssc._receiver_tracker.forget(time_ms)


class EngineBlockSink:
    """Stores received blocks: write-ahead log, then block manager, then the tracker."""

    def __init__(self, block_manager: BlockManager, tracker: ReceivedBlockTracker,
                 levels: dict[int, StorageLevel], wal: Any = None, signer: Any = None,
                 clock_ms: Any = None, backend: Any = None,
                 on_stored: Callable[[ReceivedBlock, int], None] | None = None) -> None:
        self._blocks = block_manager
        #: told of each new block and its partition in the next batch (map tasks run ahead)
        self.on_stored = on_stored
        self._backend = backend
        self._tracker = tracker
        self._levels = levels
        self.wal = wal
        self._signer = signer
        self._clock_ms = clock_ms
        self._seen: set[str] = set()
        #: blocks logged whose placement failed: an offer again reuses the record
        self._logged: dict[str, Any] = {}
        self._lock = threading.Lock()

    def store_block(self, stream_id: int, block_id: str, records: list[Any],
                    metadata: dict[str, Any]) -> None:
        with self._lock:
            if block_id in self._seen:      # a block offered again after a failed store
                return
        # pickled once, here: the same bytes go to the log, the block manager and the tasks
        data = Serialized(dumps_data(records))
        with self._lock:
            pointer = self._logged.get(block_id)
        if self.wal is not None and pointer is None:
            # one record per block: a block logged twice would be replayed twice
            payload = encode_block(stream_id, block_id, data, len(records), metadata)
            pointer = self.wal.write(self._signer.sign(payload), self._clock_ms())
            with self._lock:
                self._logged[block_id] = pointer
        place_block(self._backend, self._blocks, block_id, data,
                    self._levels.get(stream_id, DEFAULT_RECEIVER_LEVEL),
                    recovery_of(block_id, self._tracker, self.wal, self._signer, pointer))
        with self._lock:
            self._seen.add(block_id)
            self._logged.pop(block_id, None)
        block = ReceivedBlock(stream_id, block_id, len(records), metadata, pointer)
        split = self._tracker.add(block)
        if self.on_stored is not None:
            try:
                self.on_stored(block, split)
            except Exception:  # noqa: BLE001 - the block is stored; its batch computes it
                log.warning("block %s: running its map side ahead failed; its batch will compute "
                            "it", block_id, exc_info=True)

    def restore(self, block: ReceivedBlock, data: Serialized, allocated: bool) -> None:
        """Recovery: a block read back from the write-ahead log (``block.wal_pointer`` is its
        record there). One that belongs to a batch goes back to the block manager only; one
        no completed batch took is also unallocated again, so the next batch takes it."""
        place_block(self._backend, self._blocks, block.block_id, data,
                    self._levels.get(block.stream_id, DEFAULT_RECEIVER_LEVEL),
                    recovery_of(block.block_id, self._tracker, self.wal, self._signer, block.wal_pointer))
        with self._lock:
            self._seen.add(block.block_id)
        if not allocated:
            self._tracker.add(block)

    def forget(self, block_ids: list[str]) -> None:
        with self._lock:
            self._seen.difference_update(block_ids)
        for block_id in block_ids:
            self._blocks.remove(block_id)

    def release(self, block: ReceivedBlock) -> bool:
        """Nothing will read ``block`` again: drop its memory copy, and its disk copy when it
        is in the write-ahead log (a read after all comes back from there)."""
        reread = None
        if self.wal is not None and hasattr(block.wal_pointer, "segment"):
            reread = recovery_of(block.block_id, self._tracker, self.wal, self._signer, block.wal_pointer)
        return self._blocks.release(block.block_id, reread)


class _EventBridge:
    """Receiver events onto the listener bus (onReceiverStarted / Error / Stopped)."""

    _CALLBACKS = {"started": "onReceiverStarted", "error": "onReceiverError",
                  "stopped": "onReceiverStopped"}

    def __init__(self, bus: ListenerBus, clock_ms: Any) -> None:
        self._bus = bus
        self._clock_ms = clock_ms
        #: called with the stream id when a receiver failed for good (a configuration error)
        self.on_fatal: Callable[[int], None] | None = None
        self.infos: dict[int, ReceiverInfo] = {}
        self.bad_records: dict[int, dict[str, int]] = {}
        self._lock = threading.Lock()

    def receiver_event(self, kind: str, stream_id: int, info: dict[str, Any]) -> None:
        with self._lock:
            current = self.infos.setdefault(stream_id, ReceiverInfo(stream_id, str(info.get("name", ""))))
            if kind == "bad_record":
                counts = self.bad_records.setdefault(stream_id, {})
                reason = str(info.get("reason", "bad_record"))
                counts[reason] = counts.get(reason, 0) + int(info.get("count", 1))
            elif kind == "error":
                current.last_error_message = str(info.get("message", ""))
                current.last_error = str(info.get("error", ""))
                current.last_error_time_ms = self._clock_ms()
                current.last_error_kind = str(info.get("kind", "transient"))
            errors = info.get("errors")
            if isinstance(errors, dict):     # running totals: the newest event knows them all
                current.transient_errors = max(current.transient_errors, int(errors.get("transient", 0)))
                current.fatal_errors = max(current.fatal_errors, int(errors.get("fatal", 0)))
            current.restarts = max(current.restarts, int(info.get("restarts", 0) or 0))
            current.active = kind != "stopped"
            snapshot = ReceiverInfo(**vars(current))
        if kind == "error" and info.get("fatal") and self.on_fatal is not None:
            self.on_fatal(stream_id)
        callback = self._CALLBACKS.get(kind)
        if callback is not None:
            self._bus.post(callback, receiver_info=snapshot)
        elif kind == "bad_record":
            self._bus.post("onReceiverBadRecord", receiver_info=snapshot, details=dict(info))


class _RateController(StreamingListener):
    """Backpressure: after each batch, a PID estimate of the rate every receiver may take."""

    def __init__(self, tracker: ReceiverTracker, batch_ms: int, min_rate: float,
                 proportional: float = 1.0, integral: float = 0.2, derivative: float = 0.0) -> None:
        self._tracker = tracker
        self._pid = PIDRateEstimator(batch_ms, proportional, integral, derivative, min_rate=min_rate)

    def onBatchCompleted(self, batchCompleted: Any) -> None:
        info: BatchInfo = batchCompleted.batchInfo()
        if info.processing_end_time_ms is None or info.processing_start_time_ms is None:
            return
        supervisors = self._tracker.supervisors()
        if not supervisors:
            return
        processing, scheduling = info.processingDelay(), info.schedulingDelay()
        assert processing is not None and scheduling is not None  # both times are set
        rate = self._pid.compute(info.processing_end_time_ms, info.num_records, processing, scheduling)
        if rate is not None:
            self._tracker.set_rate(rate / len(supervisors))


def _cut_lead_ms(conf: Conf, block_interval_ms: float) -> float:
    """``dstream.streaming.blockCutLead`` in ms (default: three quarters of the block interval).

    >>> from dstream.conf import Conf
    >>> _cut_lead_ms(Conf(), 200.0)
    150.0
    >>> _cut_lead_ms(Conf().set("dstream.streaming.blockCutLead", "30ms"), 200.0)
    30.0
    """
    if not conf.contains("dstream.streaming.blockCutLead"):
        return block_interval_ms * 0.75
    lead_ms = conf.getSeconds("dstream.streaming.blockCutLead") * 1000
    if not 0 <= lead_ms < block_interval_ms:
        raise ValueError(
            f"dstream.streaming.blockCutLead must be at least 0 and less than "
            f"dstream.streaming.blockInterval ({block_interval_ms:g} ms), got {lead_ms:g} ms")
    return lead_ms


class ReceiverTracker:
    """Starts a supervisor per receiver stream, allocates their blocks to batches, cleans up."""

    def __init__(self, ssc: ReceivingContext) -> None:
        self._ssc = ssc
        self.tracker = ReceivedBlockTracker()
        self._streams: list[ReceiverInputDStream[Any]] = []
        self._supervisors: dict[int, ReceiverSupervisor] = {}
        self._levels: dict[int, StorageLevel] = {}
        self.events = _EventBridge(ssc._bus, ssc._clock.now_ms)
        self.events.on_fatal = self._on_fatal
        self.sink = EngineBlockSink(ssc.sparkContext._block_manager, self.tracker, self._levels,
                                    clock_ms=ssc._clock.now_ms, backend=ssc.sparkContext._backend)
        self._lock = threading.Lock()
        self._max_rate: float | None = None
        self._release_early = ssc.sparkContext._conf.getBoolean("dstream.streaming.receiver.releaseEarly", True)
        #: each block's map side runs as it is stored (``dstream.scheduler.ahead``)
        self.map_ahead = ssc.sparkContext._conf.getBoolean("dstream.streaming.mapAhead.enable", True)
        if self.map_ahead:
            scheduler = ssc.sparkContext._scheduler
            self.sink.on_stored = lambda block, split: scheduler.block_stored(
                block.stream_id, block.block_id, split)
        #: succeeded batches some of whose blocks a remembered RDD could still read
        self._unreleased: list[int] = []
        #: block ids go on increasing across restarts (recovery advances them past the log's)
        self.block_ids = default_block_ids

    def use_log(self, wal: Any, signer: Any) -> None:
        """Write every received block ahead to ``wal`` (signed) before it counts as stored."""
        self.sink.wal = wal
        self.sink._signer = signer

    def register(self, stream: ReceiverInputDStream[Any]) -> None:
        self._streams.append(stream)
        self._levels[stream.stream_id] = stream.storage_level_of_blocks

    @property
    def has_receivers(self) -> bool:
        return bool(self._streams)

    def supervisors(self) -> list[ReceiverSupervisor]:
        with self._lock:
            return list(self._supervisors.values())

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if not self._streams:
            return
        conf = self._ssc.sparkContext._conf
        block_interval_ms = conf.getSeconds("dstream.streaming.blockInterval", 0.2) * 1000
        if block_interval_ms <= 0:
            raise ValueError(f"dstream.streaming.blockInterval must be positive, got {block_interval_ms} ms")
        cut_lead_ms = _cut_lead_ms(conf, block_interval_ms)
        max_rate = conf.getFloat("dstream.streaming.receiver.maxRate", 0.0) or None
        self._max_rate = max_rate
        initial_rate = None
        if conf.getBoolean("dstream.streaming.backpressure.enabled", False):
            initial_rate = conf.getFloat("dstream.streaming.backpressure.initialRate", 0.0) or None
            min_rate = conf.getFloat("dstream.streaming.backpressure.pid.minRate", 100.0)
            self._ssc._bus.add(_RateController(
                self, self._ssc.batch_duration_ms, min_rate,
                conf.getFloat("dstream.streaming.backpressure.pid.proportional", 1.0),
                conf.getFloat("dstream.streaming.backpressure.pid.integral", 0.2),
                conf.getFloat("dstream.streaming.backpressure.pid.derived", 0.0)))
        for stream in self._streams:
            if hasattr(stream.receiver, "request_commit"):
                # the engine commits after the batch (a receiver with request_commit, Kafka's,
                # has commit_on_store)
                stream.receiver.commit_on_store = False  # type: ignore[attr-defined]
            supervisor = ReceiverSupervisor(
                stream.receiver, stream.stream_id, self.sink, self.events,
                block_interval_ms=block_interval_ms, cut_lead_ms=cut_lead_ms,
                max_rate=max_rate, initial_rate=initial_rate,
                buffer_capacity=conf.getInt("dstream.streaming.receiver.bufferRecords", 100_000),
                restart_delay_s=conf.getSeconds("dstream.streaming.receiver.restartDelay", 0.2),
                block_ids=self.block_ids)
            with self._lock:
                self._supervisors[stream.stream_id] = supervisor
            supervisor.start()

    def _on_fatal(self, stream_id: int) -> None:
        """A receiver stopped on a configuration error: the context stops with that error."""
        supervisor = self._supervisors.get(stream_id)
        fatal = supervisor.fatal_error if supervisor is not None else None
        message, error = fatal if fatal is not None else (f"receiver of stream {stream_id} failed", None)
        if not isinstance(error, Exception):
            error = ReceiverFailedError(message)
        self._ssc._fail_from_receiver(stream_id, error)

    def source_commits(self, time_ms: int) -> Callable[[], None] | None:
        """What acknowledges the batch's input to its sources (Kafka offsets of its blocks),
        to run once the batch's outputs succeeded and its checkpoint is written."""
        commits: dict[int, tuple[Callable[[dict[Any, int]], None], dict[Any, int]]] = {}
        for stream in self._streams:
            request = getattr(stream.receiver, "request_commit", None)
            if request is None:
                continue
            offsets: dict[Any, int] = {}
            for block in self.tracker.blocks_of(time_ms, stream.stream_id):
                for partition, offset in (block.metadata.get("kafka_offsets") or {}).items():
                    offsets[partition] = max(offset, offsets.get(partition, 0))
            if offsets:
                commits[stream.stream_id] = (request, offsets)
        if not commits:
            return None

        def commit_all() -> None:
            for request, offsets in commits.values():
                request(offsets)
        return commit_all

    def stop(self, graceful: bool, timeout: float) -> None:
        """Stop every receiver; graceful: their buffered records become a last block first."""
        for stream_id, supervisor in list(self._supervisors.items()):
            if not supervisor.stop(graceful=graceful, timeout=timeout):
                log.warning("receiver of stream %d did not stop cleanly within %s s", stream_id, timeout)

    def set_rate(self, records_per_s: float) -> None:
        rate = records_per_s if self._max_rate is None else min(records_per_s, self._max_rate)
        for supervisor in self.supervisors():
            supervisor.set_rate_limit(rate)

    # ------------------------------------------------------------------ per batch
    def allocate(self, time_ms: int, info: BatchInfo) -> None:
        """Before a batch's jobs are made: give it every block that arrived."""
        if not self._streams:
            return
        for stream_id, blocks in self.tracker.allocate(time_ms).items():
            info.input_records[stream_id] = sum(b.num_records for b in blocks)

    def forget(self, time_ms: int) -> None:
        """A batch's blocks are no longer needed by any window or ``remember``: drop them."""
        blocks = self.tracker.forget_batches(time_ms)
        block_ids = [b.block_id for b in blocks]
        self.sink.forget(block_ids)
        if self.map_ahead:
            self._ssc.sparkContext._scheduler.blocks_forgotten(block_ids)
        with self._lock:
            self._unreleased = [t for t in self._unreleased if t > time_ms]

    def release_done(self, time_ms: int) -> int:
        """Batch ``time_ms`` succeeded: release its blocks, and those of earlier succeeded
        batches still held, that no remembered RDD can read again (``block_release``); how
        many were released. Nothing is released with ``ssc.remember`` set or the setting
        ``dstream.streaming.receiver.releaseEarly`` off."""
        if not self._streams or not self._release_early or self._ssc._graph.remember_ms is not None:
            return 0
        with self._lock:
            self._unreleased.append(time_ms)
            times = list(self._unreleased)
        sc = self._ssc.sparkContext
        streams = self._ssc._graph.all_streams()
        pinned = lineage_blocks(remembered_rdds(streams), sc._scheduler, sc._block_manager)
        unmade = unmade_times(streams, times)
        released, done = 0, []
        for t in times:
            if t in unmade:
                continue
            blocks = [b for s in self._streams for b in self.tracker.blocks_of(t, s.stream_id)]
            held = [b for b in blocks if b.block_id in pinned]
            released += sum(self.sink.release(b) for b in blocks if b.block_id not in pinned)
            if not held:
                done.append(t)
        with self._lock:
            self._unreleased = [t for t in self._unreleased if t not in done]
        return released
