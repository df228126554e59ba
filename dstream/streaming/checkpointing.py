"""Saving checkpoints: metadata and data checkpoints, written off the batch thread to a
checkpoint store (``recovery.py`` reads them back).

After every batch whose output operations all succeeded, the batch thread captures what
recovery needs (a plain-data snapshot, and the partitions of the state RDDs due for a data
checkpoint, whose lineage is cut right there) and hands it to the writer thread. The writer
saves data first, then the metadata that refers to it, then runs the commit actions
(e.g. cleaning the write-ahead log). When the store is down it retries with backoff; the
batches go on, newer snapshots replace older queued ones, and the next successful write
catches up. Every write is posted as ``onCheckpointWritten``, every failed attempt as
``onCheckpointError``; ``CheckpointManager.health()`` holds the figures the service shows
(checkpoint age, last error, consecutive failures).
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from dstream.checkpoint import CheckpointStore, WriteAheadLog, list_generations, open_store, save_generation
from dstream.checkpoint.signing import Signer, load_or_create_key_file

from ..block_manager import RemoteBlock, rdd_block_id
from ..rdd import RDD
from ..rdd_checkpoint import truncate_to
from ..taskcontext import Serialized
from .clock import Clock
from .listener import ListenerBus
from .recovery_format import data_partition_name, encode_metadata, storage_name

if TYPE_CHECKING:
    from ..conf import Conf

__all__ = ["CheckpointManager", "DataSnapshot", "open_checkpoint_store", "METADATA_KIND",
           "MissingSigningKeyError", "DISCARD_STATE_CONF"]

log = logging.getLogger(__name__)

METADATA_KIND = "metadata"
KEY_ENV = "DSTREAM_CHECKPOINT_KEY"
KEY_CONF = "dstream.checkpoint.key"
KEY_FILE = "signing.key"
DISCARD_STATE_CONF = "dstream.checkpoint.discardState"
#: what a checkpoint store holds that is signed: state partitions and logged blocks
SIGNED_PREFIXES = ("data/", "wal/")
MAX_AGE_CONF = "dstream.streaming.checkpoint.maxAge"
STOP_AFTER_CONF = "dstream.streaming.checkpoint.stopAfter"


def _positive_seconds(conf: Conf, key: str, default: float) -> float:
    value = conf.getSeconds(key, default)
    if not value > 0:
        raise ValueError(f"{key} must be a positive duration (seconds, or like '90s', '5min'), "
                         f"got {conf.get(key)!r}")
    return value


class MissingSigningKeyError(ValueError):
    """A checkpoint directory holds signed state but its key file is gone."""


def open_checkpoint_store(location: str, conf: Conf) -> tuple[CheckpointStore, Signer]:
    """The store at ``location`` and the signer of this job's pickled payloads.

    The key comes from conf ``dstream.checkpoint.key`` or the environment variable
    ``DSTREAM_CHECKPOINT_KEY``; a directory store without one keeps a random key in a
    0600 file inside the directory (the directory is the user's own). A network store
    (Redis) needs the key explicitly: bytes from it are never unpickled unsigned. A
    directory that holds signed state (state partitions, logged blocks) without its key file
    is refused (``MissingSigningKeyError``): a new key would not verify that state, so
    either the key is restored or the state is given up with ``discardState``.

    >>> import tempfile
    >>> from dstream import Conf
    >>> store, signer = open_checkpoint_store(tempfile.mkdtemp(), Conf())
    >>> signer.verify(signer.sign(b"x"), "test"); store.close()
    b'x'
    """
    store, signer, _replaced = open_signed_store(location, conf)
    return store, signer


def open_signed_store(location: str, conf: Conf) -> tuple[CheckpointStore, Signer, bool]:
    """``open_checkpoint_store``, and whether the signed state there was given up for a
    new key (``discardState=true`` with the key file gone: the old log cannot be read)."""
    store = open_store(location)
    secret = conf.get(KEY_CONF) or os.environ.get(KEY_ENV)
    if secret:
        return store, Signer(secret.encode()), False
    directory = getattr(store, "directory", None)
    if directory is None:
        store.close()
        raise ValueError(
            f"checkpoint store {_public(location)} is reached over the network: set "
            f"{KEY_CONF} (or the environment variable {KEY_ENV}) to a secret of this job, so "
            "that its state is signed when saved and verified before it is loaded")
    path = os.path.join(directory, KEY_FILE)
    replaced = False
    if not os.path.exists(path) and any(store.list(p) for p in SIGNED_PREFIXES):
        if not conf.getBoolean(DISCARD_STATE_CONF, False):
            store.close()
            raise MissingSigningKeyError(
                f"checkpoint directory {directory} holds signed state (saved state and logged "
                f"blocks) but its signing key {path} is missing, so that state cannot be "
                f"verified. Restore {path} from where it was copied (it is the job's own "
                f"secret), or set {KEY_CONF} to the key it held, or restart with "
                f"{DISCARD_STATE_CONF}=true to give up that state and the blocks logged but "
                "not yet processed (sources resume from their saved positions); no new key "
                "was written")
        log.warning("checkpoint directory %s: signing key %s is missing; %s=true, so the state "
                    "and logged blocks signed with the old key are given up and a new key is "
                    "written", directory, path, DISCARD_STATE_CONF)
        replaced = True
    return store, Signer(load_or_create_key_file(path)), replaced


def _public(location: str) -> str:
    if "@" in location and "://" in location:
        scheme, rest = location.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return location


@dataclass
class DataSnapshot:
    """The partitions of one stateful operator's RDD at one batch time."""

    key: str
    kind: str
    time_ms: int
    partitions: list[Any]            # each a list of records or Serialized bytes
    partitioner: int | None
    #: an incremental state checkpoint: the batch times of its snapshot and of the deltas up
    #: to this one (``state_checkpoints``); recovery reads them all, retention keeps them
    chain: list[int] | None = None


@dataclass
class _Request:
    time_ms: int
    metadata: dict[str, Any] | None
    data: list[DataSnapshot] = field(default_factory=list)
    on_commit: list[Callable[[], None]] = field(default_factory=list)


def _merge(older: _Request, newer: _Request) -> _Request:
    """One request that writes both requests' data and the newest metadata."""
    if newer.metadata is None:        # data of a failed batch: the older metadata still rules
        return _Request(max(older.time_ms, newer.time_ms), older.metadata,
                        older.data + newer.data, older.on_commit)
    newest: dict[str, DataSnapshot] = {}
    for snapshot in older.data + newer.data:
        # the newer metadata refers to each operator's newest state: older ones are superseded
        if snapshot.key not in newest or snapshot.time_ms >= newest[snapshot.key].time_ms:
            newest[snapshot.key] = snapshot
    # ... except the snapshot and deltas that an incremental one is applied on
    kept = [s for s in older.data + newer.data
            if s is newest[s.key] or s.time_ms in (newest[s.key].chain or ())]
    return _Request(newer.time_ms, newer.metadata, kept, older.on_commit + newer.on_commit)


class CheckpointManager:
    """Owns the store, the signer, the receivers' write-ahead log and the writer thread."""

    def __init__(self, location: str, conf: Conf, batch_ms: int, clock: Clock,
                 bus: ListenerBus) -> None:
        self._bus = bus
        self.location = location
        batch_s = batch_ms / 1000
        #: no metadata checkpoint for longer than this: the service is not ready
        self.max_age_s = _positive_seconds(conf, MAX_AGE_CONF, max(60.0, 3 * batch_s))
        #: checkpoints failing for longer than this: the daemon stops the job
        self.stop_after_s = _positive_seconds(conf, STOP_AFTER_CONF, max(600.0, 10 * batch_s))
        self.store, self.signer, self.key_replaced = open_signed_store(location, conf)
        self.retained = max(1, conf.getInt("dstream.streaming.checkpoint.retained", 3))
        self._retry_max_s = conf.getSeconds("dstream.streaming.checkpoint.maxRetryDelay", 10.0)
        self.wal: WriteAheadLog | None = None
        if conf.getBoolean("dstream.streaming.receiver.writeAheadLog.enable", False):
            roll_s = conf.getSeconds("dstream.streaming.receiver.writeAheadLog.rollingIntervalSecs", 60.0)
            self.wal = WriteAheadLog(self.store, "wal/receivers", roll_interval_s=roll_s)
        self._cond = threading.Condition()
        self._queue: list[_Request] = []
        self._busy = False
        self._stopping = False
        self.failures = 0
        self.consecutive_failures = 0
        self.written = 0
        self.last_error: str | None = None
        self.last_error_time_s: float | None = None
        self.last_written_ms: int | None = None
        #: the context's clock (seconds) when the last metadata checkpoint was written (or at
        #: the start): a manual clock in tests, wall time otherwise
        self._now_s: Callable[[], float] = lambda: clock.now_ms() / 1000.0
        self.last_success_time_s = self._now_s()
        self.started_time_s = self.last_success_time_s
        #: called with the metadata right after each metadata generation is saved
        self.on_saved: Callable[[dict[str, Any]], None] | None = None
        self._stats_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="dstream-checkpoint-writer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ batch thread
    def capture(self, key: str, kind: str, time_ms: int, rdd: RDD[Any]) -> DataSnapshot:
        """The partitions of ``rdd`` (from the cache, computed if missing); cuts its lineage."""
        partitions = self.partitions_of(rdd)
        truncate_to(rdd, partitions)
        n = rdd.partitioner.numPartitions if rdd.partitioner is not None else None
        return DataSnapshot(key, kind, time_ms, partitions, n)

    @staticmethod
    def partitions_of(rdd: RDD[Any]) -> list[Any]:
        """Each partition of ``rdd`` from the cache (brought from an executor if held there),
        computed if missing: lists of records or their ``Serialized`` form."""
        ctx = rdd.ctx
        partitions: list[Any] = []
        missing = []
        for split in range(rdd.getNumPartitions()):
            block_id = rdd_block_id(rdd.id, split)
            value = None
            if ctx._block_manager.contains(block_id):
                value = ctx._block_manager.get_for_task(block_id)
            if isinstance(value, RemoteBlock):
                # a partition cached on an executor comes to the driver to be written
                value = None if value.lost() else value.fetch()
            partitions.append(value)
            if value is None:
                missing.append(split)
        if missing:
            computed = ctx._run_job(rdd, lambda _, it: list(it), missing)
            for split, values in zip(missing, computed):
                partitions[split] = values
        return partitions

    def submit(self, time_ms: int, metadata: dict[str, Any] | None, data: list[DataSnapshot],
               on_commit: list[Callable[[], None]]) -> None:
        """Queue a checkpoint; a queued, unwritten older metadata snapshot is superseded
        (its data snapshots and commit actions are kept)."""
        with self._cond:
            request = _Request(time_ms, metadata, data, on_commit)
            if self._queue:
                request = _merge(self._queue.pop(), request)
            self._queue.append(request)
            self._cond.notify_all()

    def submit_data_only(self, data: list[DataSnapshot]) -> None:
        """State captured in a failed batch: saved, but no metadata refers to it yet."""
        self.submit(max(d.time_ms for d in data), None, data, [])

    def flush(self, timeout: float) -> bool:
        """Block until every queued checkpoint is written (True) or ``timeout`` passes."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def stop(self, timeout: float) -> bool:
        flushed = self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if self.wal is not None:
            self.wal.close()
        self.store.close()
        return flushed

    # ------------------------------------------------------------------ writer thread
    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._stopping)
                if not self._queue:
                    return
                request = self._queue.pop(0)
                self._busy = True
            try:
                self._write_with_retry(request)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _write_with_retry(self, request: _Request) -> None:
        delay = 0.1
        while True:
            try:
                self._write(request)
                return
            except Exception as e:   # store down, or a bug: report, retry, never drop silently
                self.record_failure(request.time_ms, e, f"writing (retry in {delay:.1f} s)")
                with self._cond:
                    if self._stopping:
                        log.error("checkpoint of batch %d abandoned at stop: %s", request.time_ms, e)
                        return
                    self._cond.wait(delay)
                    if self._queue:          # a newer snapshot arrived: write that one instead
                        request = _merge(request, self._queue.pop())
                delay = min(delay * 2, self._retry_max_s)

    def _write(self, request: _Request) -> None:
        started = time.perf_counter()
        written_data: dict[str, int] = {}
        for snapshot in request.data:
            for split, values in enumerate(snapshot.partitions):
                payload = values.data if isinstance(values, Serialized) else pickle.dumps(values, protocol=5)
                self.store.save(data_partition_name(snapshot.key, snapshot.time_ms, split),
                                self.signer.sign(payload))
            written_data[snapshot.key] = snapshot.time_ms
        if request.metadata is not None:
            save_generation(self.store, METADATA_KIND, request.metadata["time_ms"],
                            encode_metadata(request.metadata), retained=self.retained)
            if self.on_saved is not None:
                self.on_saved(request.metadata)
            for action in request.on_commit:
                action()
            self._delete_old_data(request.metadata.get("state", {}))
        request.data = []
        elapsed_ms = (time.perf_counter() - started) * 1000
        with self._stats_lock:
            self.written += 1
            self.consecutive_failures = 0
            self.last_error = None          # the error of the failing streak, if one is on
            if request.metadata is not None:
                self.last_written_ms = request.time_ms
                self.last_success_time_s = self._now_s()
        self._bus.post("onCheckpointWritten", time_ms=request.time_ms,
                       metadata=request.metadata is not None, duration_ms=elapsed_ms)
        log.debug("checkpoint of batch %d written in %.1f ms", request.time_ms, elapsed_ms)

    def record_failure(self, time_ms: int, error: BaseException, step: str) -> None:
        """A checkpoint step failed: counted, kept as the last error, posted as
        ``onCheckpointError``; the caller retries."""
        message = f"{type(error).__name__}: {error}"
        with self._stats_lock:
            self.failures += 1
            self.consecutive_failures += 1
            self.last_error = message
            self.last_error_time_s = self._now_s()
            attempt = self.consecutive_failures
        log.warning("checkpoint of batch %d failed %s (failure %d in a row): %s",
                    time_ms, step, attempt, message)
        self._bus.post("onCheckpointError", time_ms=time_ms, error=message,
                       consecutive_failures=attempt)

    def health(self, now_s: float | None = None) -> dict[str, Any]:
        """The checkpoint figures the service shows (plain data).

        ``age_s`` is how long ago the last metadata checkpoint was written (since the start
        when none was yet); ``healthy`` is False once it passes ``max_age_s``; ``failing_s`` is
        how long checkpoints have been failing in a row (0 when the last attempt succeeded)."""
        now = self._now_s() if now_s is None else now_s
        with self._stats_lock:
            age = max(0.0, now - self.last_success_time_s)
            return {
                "enabled": True,
                "max_age_s": self.max_age_s,
                "stop_after_s": self.stop_after_s,
                "healthy": age <= self.max_age_s,
                "failing_s": age if self.consecutive_failures else 0.0,
                "location": _public(self.location),
                "written": self.written,
                "failures": self.failures,
                "consecutive_failures": self.consecutive_failures,
                "last_error": self.last_error,
                "last_error_time_s": self.last_error_time_s,
                "last_batch_time_ms": self.last_written_ms,
                "last_success_time_s": self.last_success_time_s,
                "age_s": age,
            }

    def _delete_old_data(self, state: dict[str, dict[str, Any]]) -> None:
        """Keep the data checkpoints the retained metadata generations may refer to."""
        for key, info in state.items():
            prefix = f"data/{storage_name(key)}/"
            times = sorted({int(name[len(prefix):].split("/", 1)[0]) for name in self.store.list(prefix)})
            keep = set(info.get("history", [info["time_ms"]])[-self.retained:])
            for chain in info.get("chains", [])[-self.retained:]:
                keep.update(chain)        # an incremental checkpoint's snapshot and deltas
            for t in times:
                if t not in keep and t < info["time_ms"]:
                    for name in self.store.list(f"{prefix}{t:020d}/"):
                        self.store.delete(name)

    def has_metadata(self) -> bool:
        return bool(list_generations(self.store, METADATA_KIND))
