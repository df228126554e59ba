"""``StreamCheckpoints``: what a StreamingContext saves after each successful batch (the
state of its stateful and windowed streams due for a data checkpoint, and the metadata
recovery needs), handed to its ``CheckpointManager`` (``checkpointing.py``) to write.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from ..rdd import RDD
from .checkpointing import CheckpointManager, DataSnapshot
from .dstream import DStream
from .inputs.receiver_streams import ReceivingContext
from .log_ledger import LogCleaner, ledger_of
from .recovery_format import state_keys

__all__ = ["StreamCheckpoints", "CheckpointedContext"]


class CheckpointedContext(ReceivingContext, Protocol):
    """A ``StreamingContext`` as its checkpoints and its recovery see it: the graph, the
    receiver tracker, and the time of the batch grid's zero."""

    @property
    def _zero_time_ms(self) -> int | None: ...


class StreamCheckpoints:
    """What a StreamingContext saves after each successful batch, through a CheckpointManager."""

    def __init__(self, ssc: CheckpointedContext, location: str) -> None:
        self._ssc = ssc
        self.manager = CheckpointManager(location, ssc.sparkContext._conf, ssc.batch_duration_ms,
                                         ssc._clock, ssc._bus)
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
