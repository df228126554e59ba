"""Checkpoint plumbing of a StreamingContext: what is saved after a batch, and recovery.

Recovery never unpickles a graph: ``getOrCreate`` builds the graph from the job's current
code, then ``Recovery.apply`` reattaches what was saved as data: the batch grid, the
received blocks and their batches (replayed from the write-ahead log), source positions,
and each stateful operator's state under its state key.
"""

from __future__ import annotations

import logging
import pickle
from typing import TYPE_CHECKING, Any, Callable

from dstream.checkpoint import CheckpointError, load_newest

from ..partitioner import Partitioner
from ..hashing import portable_hash
from ..rdd_checkpoint import truncate_to
from ..rdd_kinds import ParallelCollectionRDD
from .received_blocks import ReceivedBlock
from .checkpointing import DISCARD_STATE_CONF, METADATA_KIND, CheckpointManager, DataSnapshot
from .log_ledger import LogCleaner, ReplayPlan, ledger_of
from .log_records import decode_block
from .recovery_format import data_partition_name, decode_metadata, state_keys
from .state_checkpoints import load_chain

if TYPE_CHECKING:
    from ..rdd import RDD
    from .context import StreamingContext
    from .dstream import DStream

__all__ = ["StreamCheckpoints", "Recovery", "IncompatibleCheckpointError"]

log = logging.getLogger(__name__)


class IncompatibleCheckpointError(ValueError):
    """The saved state does not fit the job's current definition."""


def _merge_positions(positions: dict[Any, int], metadata: dict[str, Any]) -> None:
    """The furthest source position a logged block reached (Kafka: next offset per partition)."""
    for partition, offset in (metadata.get("kafka_offsets") or {}).items():
        positions[partition] = max(offset, positions.get(partition, 0))


class StreamCheckpoints:
    """What a StreamingContext saves after each successful batch, through a CheckpointManager."""

    def __init__(self, ssc: StreamingContext, location: str) -> None:
        self._ssc = ssc
        self.manager = CheckpointManager(ssc, location)
        self.due: list[tuple[DStream[Any], int, RDD[Any]]] = []
        self.state_index: dict[str, dict[str, Any]] = {}
        self._keys: dict[int, str] = {}
        wal = self.manager.wal
        self.cleaner = None if wal is None else LogCleaner(wal, self.manager.retained)
        if self.cleaner is not None:
            self.manager.on_saved = self.cleaner.saved

    def start(self) -> None:
        self._keys = {id(stream): key for key, stream in self.keys().items()}

    def keys(self) -> dict[str, DStream[Any]]:
        """State key -> stream, for the graph as the job's code defines it now."""
        return state_keys(self._ssc._graph.all_streams())

    def key_of(self, stream: DStream[Any]) -> str | None:
        return self._keys.get(id(stream))

    def note_due(self, stream: DStream[Any], time_ms: int, rdd: RDD[Any]) -> None:
        """``stream``'s RDD of ``time_ms`` is due for a data checkpoint."""
        self.due.append((stream, time_ms, rdd))

    def after_batch(self, time_ms: int, succeeded: bool,
                    source_commits: Callable[[], None] | None = None) -> None:
        """Batch thread: capture due state and the metadata, hand both to the writer. A
        capture that fails is a failed checkpoint (counted, posted, retried at the next batch),
        never only a log line."""
        try:
            self._capture_and_submit(time_ms, succeeded, source_commits)
        except Exception as e:   # noqa: BLE001 - reported as a checkpoint failure, retried
            self.manager.record_failure(time_ms, e, "capturing the checkpoint")

    def _capture_and_submit(self, time_ms: int, succeeded: bool,
                            source_commits: Callable[[], None] | None) -> None:
        due = [d for d in self.due if d[1] <= time_ms]
        self.due = [d for d in self.due if d[1] > time_ms]
        snapshots = []
        for stream, t, rdd in due:
            key = self.key_of(stream)
            if key is None:
                continue
            incremental = getattr(stream, "_capture_incremental", None)
            snapshot = (self.manager.capture(key, stream.op, t, rdd) if incremental is None
                        else incremental(self.manager, key, t, rdd, self.state_index.get(key)))
            snapshots.append(snapshot)
            self._index(snapshot)
        if not succeeded:
            # never a metadata checkpoint after a failed batch: recovery re-runs it
            if snapshots:
                self.manager.submit_data_only(snapshots)
            return
        actions = [source_commits] if source_commits is not None else []
        self.manager.submit(time_ms, self.metadata(time_ms), snapshots, actions)

    def _index(self, snapshot: DataSnapshot) -> None:
        info = self.state_index.setdefault(snapshot.key, {"history": []})
        info.update(time_ms=snapshot.time_ms, kind=snapshot.kind, partitions=len(snapshot.partitions),
                    partitioner=snapshot.partitioner)
        info["history"] = (info["history"] + [snapshot.time_ms])[-10:]
        info.pop("chain", None)
        if snapshot.chain is not None:
            info["chain"] = list(snapshot.chain)
            info["chains"] = (info.get("chains", []) + [list(snapshot.chain)])[-10:]

    def metadata(self, time_ms: int) -> dict[str, Any]:
        ssc = self._ssc
        cleaned = self.cleaner.take_cleaned() if self.cleaner is not None else set()
        ledger = ledger_of(ssc._receiver_tracker.tracker, cleaned)
        sources = {s.id: s.source_state() for s in ssc._graph.inputs if hasattr(s, "source_state")}
        return {
            "app": ssc.sparkContext.appName,
            "batch_ms": ssc.batch_duration_ms,
            "zero_time_ms": ssc._zero_time_ms,
            "time_ms": time_ms,
            "streams": sorted(s.id for s in ssc._graph.all_streams()),
            "state": {k: dict(v) for k, v in self.state_index.items()},
            **ledger,
            "sources": sources,
        }

    def stop(self, timeout: float) -> bool:
        return self.manager.stop(timeout)


class Recovery:
    """Saved metadata applied to a context that the job's current code just built."""

    def __init__(self, meta: dict[str, Any], seq: int) -> None:
        self.meta = meta
        self.seq = seq
        #: blocks of the log by fate, once ``restore_blocks`` ran
        self.replayed: dict[str, int] = {}

    @staticmethod
    def load(manager: CheckpointManager) -> Recovery | None:
        def report(name: str, error: Exception) -> None:
            log.warning("checkpoint %s in %s cannot be used (%s); trying the previous one",
                        name, manager.location, error)

        found = load_newest(manager.store, METADATA_KIND, report, decode=decode_metadata)
        if found is None:
            return None
        seq, meta = found
        log.info("recovering from the checkpoint of batch %s in %s", meta["time_ms"], manager.location)
        return Recovery(meta, seq)

    # ------------------------------------------------------------------ checks
    @staticmethod
    def discard_state(ssc: StreamingContext) -> bool:
        """Start every state fresh, keeping only the source positions (conf)."""
        return ssc.sparkContext._conf.getBoolean(DISCARD_STATE_CONF, False)

    def check_compatible(self, ssc: StreamingContext, keys: dict[str, DStream[Any]]) -> bool:
        """True when the saved state is to be reattached; raises on an incompatible job."""
        meta = self.meta
        discard = self.discard_state(ssc)
        if meta["batch_ms"] != ssc.batch_duration_ms and not discard:
            raise IncompatibleCheckpointError(
                f"the checkpoint was written with batches of {meta['batch_ms']} ms, this job uses "
                f"{ssc.batch_duration_ms} ms: windows and state cannot carry over. Keep the batch "
                f"duration, or restart with {DISCARD_STATE_CONF}=true to start the state fresh "
                "from the saved source positions")
        for key, info in meta.get("state", {}).items():
            stream = keys.get(key)
            problem = None
            if stream is None:
                problem = (f"the checkpoint holds state for operator {key!r} ({info['kind']}), "
                           "which this job no longer defines")
            elif stream.op != info["kind"]:
                problem = (f"operator {key!r} was a {info['kind']} and is now a {stream.op}")
            if problem and not discard:
                raise IncompatibleCheckpointError(
                    f"{problem}. Give the operator its old id with .name({key!r}), or restart with "
                    f"{DISCARD_STATE_CONF}=true to start every state fresh from the saved source "
                    "positions (Kafka offsets, files read)")
        return not discard

    # ------------------------------------------------------------------ apply
    def restore_state(self, ssc: StreamingContext, checkpoints: StreamCheckpoints,
                      keys: dict[str, DStream[Any]]) -> None:
        manager = checkpoints.manager
        for key, info in self.meta.get("state", {}).items():
            stream = keys.get(key)
            if stream is None:
                continue
            if info.get("chain"):
                partitions = [load_chain(manager, key, info, split, self._load_verified)
                              for split in range(info["partitions"])]
            else:
                partitions = [self._load_partition(manager, key, info["time_ms"], split)
                              for split in range(info["partitions"])]
            rdd = ParallelCollectionRDD(ssc.sparkContext, partitions)
            if info.get("partitioner"):
                rdd.partitioner = Partitioner(info["partitioner"], portable_hash)
            rdd.persist(stream.storage_level) if stream.storage_level.isValid else None
            truncate_to(rdd, partitions)
            stream.generated[info["time_ms"]] = rdd
            checkpoints.state_index[key] = dict(info)
            log.info("restored state of %s from the checkpoint of batch %s", key, info["time_ms"])

    @staticmethod
    def _load_partition(manager: CheckpointManager, key: str, time_ms: int, split: int) -> list[Any]:
        records: list[Any] = pickle.loads(Recovery._load_verified(manager, key, time_ms, split))
        return records

    @staticmethod
    def _load_verified(manager: CheckpointManager, key: str, time_ms: int, split: int) -> bytes:
        """A saved partition's bytes once its signature is verified."""
        name = data_partition_name(key, time_ms, split)
        try:
            return manager.signer.verify(manager.store.load(name), name)
        except CheckpointError as e:
            raise IncompatibleCheckpointError(
                f"state of {key!r} at batch {time_ms} cannot be read: {e}. Restart with "
                f"{DISCARD_STATE_CONF}=true to start fresh from the saved source positions") from e

    def restore_blocks(self, ssc: StreamingContext, manager: CheckpointManager,
                       keep_batches: bool = True) -> None:
        """Replay the write-ahead log by the checkpoint's account of every block in it.

        A block the checkpoint allocates to a batch goes back to that batch (its records to
        the block manager); a block a completed batch consumed (settled, or allocated to a
        batch at or before the checkpoint's) is skipped; any other block no completed batch
        took, so it is new data, unallocated again for the next batch. Without
        ``keep_batches`` (a fresh start) no batch is restored: blocks of batches after the
        checkpoint are new data, the rest are skipped."""
        tracker = ssc._receiver_tracker
        plan = ReplayPlan(self.meta, keep_batches)
        known = plan.known
        for t, per in plan.batches.items():
            tracker.tracker.restore_allocation(t, per)
        positions: dict[int, dict[Any, int]] = {}
        if manager.wal is not None and manager.key_replaced:
            segments = manager.wal.segments()
            for segment in segments:
                manager.store.delete(segment)
            log.warning("recovery: %d write-ahead log segments signed with the lost key deleted "
                        "unread (%s=true)", len(segments), DISCARD_STATE_CONF)
        elif manager.wal is not None:
            for pointer, signed in manager.wal.read_with_pointers():
                stream_id, block_id, data, num_records, metadata = decode_block(
                    manager.signer.verify(signed, "write-ahead log record"))
                tracker.block_ids.advance_past(block_id)
                _merge_positions(positions.setdefault(stream_id, {}), metadata)
                fate = plan.fate(block_id)
                block = ReceivedBlock(stream_id, block_id, num_records, metadata, pointer)
                if fate == "settled":
                    tracker.tracker.restore_settled(block)
                elif fate == "batch":
                    known[block_id].wal_pointer = pointer
                    tracker.sink.restore(known[block_id], data, allocated=True)
                elif fate == "new":
                    tracker.sink.restore(block, data, allocated=False)
        for stream in ssc._graph.inputs:
            resume = getattr(getattr(stream, "receiver", None), "resume_from", None)
            if resume is not None and positions.get(stream.stream_id):
                resume(positions[stream.stream_id])
        missing = [b for b in known if not ssc.sparkContext._block_manager.contains(b)]
        if missing and keep_batches:
            log.warning("%d received blocks of batches being recovered are lost (the write-ahead "
                        "log is off: set dstream.streaming.receiver.writeAheadLog.enable=true)",
                        len(missing))
            tracker.tracker.drop_blocks(set(missing))
        for block_id in known:
            tracker.block_ids.advance_past(block_id)
        self.replayed = counts = plan.counts
        log.info("recovery: %d batches' block allocations restored; from the log %d blocks went "
                 "back to their batches, %d were already consumed, %d are new data",
                 len(plan.batches), counts["batch"], counts["settled"], counts["new"])

    def restore_sources(self, ssc: StreamingContext) -> None:
        sources = self.meta.get("sources", {})
        for stream in ssc._graph.inputs:
            saved = sources.get(stream.id)
            if saved is not None and hasattr(stream, "restore_source_state"):
                stream.restore_source_state(saved)
