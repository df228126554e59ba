"""Recovery: a StreamingContext takes back what its checkpoints saved (the saving side is
``checkpointing.py``).

Recovery never unpickles a graph: ``getOrCreate`` builds the graph from the job's current
code, then ``Recovery.apply`` reattaches what was saved as data: the batch grid, the
received blocks and their batches (replayed from the write-ahead log), source positions,
and each stateful operator's state under its state key.
"""

from __future__ import annotations

import logging
import pickle
from typing import TYPE_CHECKING, Any

from dstream.checkpoint import CheckpointError, load_newest

from ..partitioner import Partitioner
from ..hashing import portable_hash
from ..rdd_checkpoint import truncate_to
from ..rdd_kinds import ParallelCollectionRDD
from .received_blocks import ReceivedBlock
from .checkpointing import DISCARD_STATE_CONF, METADATA_KIND, CheckpointManager
from .log_ledger import ReplayPlan
from .log_records import decode_block
from .recovery_format import IncompatibleCheckpointError, data_partition_name, decode_metadata
from .state_checkpoints import load_chain

if TYPE_CHECKING:
    from .dstream import DStream
    from .stream_checkpoints import CheckpointedContext, StreamCheckpoints

__all__ = ["Recovery", "IncompatibleCheckpointError"]

log = logging.getLogger(__name__)


def _merge_positions(positions: dict[Any, int], metadata: dict[str, Any]) -> None:
    """The furthest source position a logged block reached (Kafka: next offset per partition)."""
    for partition, offset in (metadata.get("kafka_offsets") or {}).items():
        positions[partition] = max(offset, positions.get(partition, 0))


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
    def discard_state(ssc: CheckpointedContext) -> bool:
        """Start every state fresh, keeping only the source positions (conf)."""
        return ssc.sparkContext._conf.getBoolean(DISCARD_STATE_CONF, False)

    def check_compatible(self, ssc: CheckpointedContext, keys: dict[str, DStream[Any]]) -> bool:
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
    def restore_state(self, ssc: CheckpointedContext, checkpoints: StreamCheckpoints,
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

    def restore_blocks(self, ssc: CheckpointedContext, manager: CheckpointManager,
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

    def restore_sources(self, ssc: CheckpointedContext) -> None:
        sources = self.meta.get("sources", {})
        for stream in ssc._graph.inputs:
            saved = sources.get(stream.id)
            if saved is not None and hasattr(stream, "restore_source_state"):
                stream.restore_source_state(saved)
