"""Received blocks on Dask workers: one scattered key per replica, each on its own worker.

A block's pickled records (bytes) are scattered once per worker replica, each replica under
its own key and to a different worker. Distinct keys, not one key replicated: Dask's active
memory manager drops the extra replicas of a key (``ReduceReplicas``), but leaves single-copy
keys alone. The driver keeps a ``DaskBlock``: the futures and where each replica went, and,
with ``dstream.dask.driverReplica`` (the default), the bytes themselves as one of the
replicas, as Spark's receiver keeps one copy on the executor that received the block. A block
stored with replication 2 then crosses the network once, to one worker, and survives the loss
of any one worker. The block manager counts the driver's copy in its memory. When the block is
released early (its batch is done), or first when the driver is over its memory budget, the
copy leaves memory: for the write-ahead log's record, or for a file on the driver's disk.

A task that reads the block takes a live replica's future as a Dask dependency, with that
replica's worker as a loose restriction, so it runs where the data is. Scattered data cannot
be recomputed by Dask: when a worker dies its replicas are forgotten (their futures turn
``cancelled``). The next task that needs the block reads another replica, and a copy is made
on a worker that holds none, to keep the count up. When every worker replica is gone, the
driver's copy goes to a worker again, or without one the block's ``recover`` gives its bytes
(the write-ahead log) or raises ``BlockLostError``.

>>> block = DaskBlock("input-0-7", [], 1, None, kept=b"records")
>>> block.live(), block.copy_source()
([], (b'records', "the driver's copy"))
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import TYPE_CHECKING, Callable

from ..block_manager import RemoteBlock
from ..errors import BlockLostError
from ..taskcontext import Serialized

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = ["DaskBlock", "DaskBlockStore", "DaskCachedBlock"]

log = logging.getLogger(__name__)

_WORKERS_TTL_S = 1.0
#: how long a scatter waits for its target worker to be running before it tries another
#: (Dask's own wait is the client's timeout, 30 s, which a receiver would spend blocked)
_SCATTER_WAIT_S = 2.0


def _copy(data: bytes) -> bytes:
    return data


class DaskBlock(RemoteBlock):
    """The driver's handle of a block on the Dask cluster: ``(future, worker)`` per replica
    on a worker (``wanted`` of them), and the driver's own copy (``kept``) when it holds one."""

    def __init__(self, block_id: str, replicas: list[tuple[Future[bytes], str]], wanted: int,
                 recover: Callable[[], Serialized] | None, kept: bytes | None = None) -> None:
        self.block_id = block_id
        self.replicas = replicas
        self.wanted = wanted
        self.recover = recover
        self.kept = kept
        #: reads the driver's copy back once the block manager dropped it from memory
        self.reread: Callable[[], Serialized] | None = None
        self.released = False
        self.lock = threading.Lock()

    def driver_copy(self) -> bytes | None:
        return self.kept

    def shed(self, reread: Callable[[], Serialized]) -> None:
        with self.lock:
            self.kept, self.reread = None, reread

    def copy_source(self) -> tuple[bytes, str]:
        """The block's bytes to put on a worker again once every worker replica is lost, and
        where they came from: the driver's copy (in memory, or read back once released),
        else ``recover`` (the write-ahead log). BlockLostError without any of them."""
        kept, reread = self.kept, self.reread
        if kept is not None:
            return kept, "the driver's copy"
        if reread is not None:
            return reread().data, "the driver's copy, read back"
        if self.recover is None:
            raise BlockLostError(f"received block {self.block_id} is lost: every worker that "
                                 "held a replica died")
        return self.recover().data, "the write-ahead log"

    def live(self, workers: set[str] | None = None) -> list[tuple[Future[bytes], str]]:
        """Replicas not known to be lost: not ``cancelled`` (forgotten when its worker died),
        and on one of ``workers`` when given."""
        return [(f, w) for f, w in self.replicas if f.status not in ("cancelled", "error")
                and (workers is None or w in workers)]

    def release(self) -> None:
        with self.lock:
            replicas, self.replicas, self.released = self.replicas, [], True
            self.kept, self.reread = None, None
        for future, _ in replicas:
            future.release()  # type: ignore[no-untyped-call]  # no annotations

    def fetch(self) -> Serialized:
        kept = self.kept
        if kept is not None:
            return Serialized(kept)
        for future, _ in self.live():
            try:
                return Serialized(future.result())
            except Exception as e:  # noqa: BLE001 - lost meanwhile: try the next replica
                log.info("received block %s: a replica could not be read (%r)", self.block_id, e)
        reread = self.reread
        if reread is not None:
            return reread()
        raise BlockLostError(f"received block {self.block_id} has no replica left to read")

    def __repr__(self) -> str:
        return f"DaskBlock({self.block_id!r}, on {[w for _, w in self.replicas]})"


class DaskCachedBlock(RemoteBlock):
    """A cached RDD partition kept on the worker that computed it: the output of a Dask task,
    so Dask computes it again when that worker is lost (while its inputs can be had); once it
    cannot, ``lost`` tells the scheduler to compute the partition from its lineage."""

    def __init__(self, block_id: str, future: Future[Serialized]) -> None:
        self.block_id = block_id
        self.future = future

    def lost(self) -> bool:
        return self.future.status in ("cancelled", "error")

    def fetch(self) -> Serialized:
        return self.future.result()

    def release(self) -> None:
        self.future.release()  # type: ignore[no-untyped-call]  # no annotations

    def __repr__(self) -> str:
        return f"DaskCachedBlock({self.block_id!r}, {self.future.status})"


class DaskBlockStore:
    """Puts blocks on workers and finds a live replica for a task."""

    def __init__(self, client: Client, session: str, driver_replica: bool = True) -> None:
        self._client = client
        self._session = session
        self._driver_replica = driver_replica
        self._keys = itertools.count()
        self._turn = itertools.count()
        self._workers: list[str] = []
        self._workers_at = 0.0
        self._lock = threading.Lock()

    def put(self, block_id: str, data: Serialized, replicas: int,
            recover: Callable[[], Serialized] | None) -> DaskBlock:
        keep = self._driver_replica and replicas > 1
        on_workers = replicas - 1 if keep else max(1, replicas)
        block = DaskBlock(block_id, [], on_workers, recover, kept=data.data if keep else None)
        self._scatter(block, data.data, block.wanted)
        return block

    def input_of(self, block: DaskBlock) -> tuple[Future[bytes], str]:
        """A live replica of ``block`` (future, worker) for a task; makes up lost replicas."""
        with block.lock:
            if block.released:
                raise BlockLostError(f"received block {block.block_id} was already removed "
                                     "(its batch was forgotten) when a task asked for it")
            live = block.live(set(self.workers()))
            block.replicas = live
            if not live:
                data, source = block.copy_source()
                self._scatter(block, data, block.wanted)
                live = block.replicas
                log.warning("received block %s: every worker replica was lost with its worker; "
                            "put back on %s from %s", block.block_id, [w for _, w in live], source)
            elif len(live) < block.wanted:
                self._copy_to_others(block, live[0][0])
            return live[0]

    # ------------------------------------------------------------------ internals
    def workers(self, refresh: bool = False) -> list[str]:
        """Addresses of the running workers (asked of the scheduler at most once a second)."""
        now = time.monotonic()
        with self._lock:
            if not refresh and self._workers and now - self._workers_at < _WORKERS_TTL_S:
                return self._workers
        workers = sorted(self._client.scheduler_info(n_workers=-1)["workers"])
        with self._lock:
            self._workers, self._workers_at = workers, now
        return workers

    def _targets(self, n: int, exclude: set[str], refresh: bool) -> list[str]:
        workers = [w for w in self.workers(refresh) if w not in exclude]
        if not workers:
            return []
        start = next(self._turn)
        return [workers[(start + i) % len(workers)] for i in range(min(n, len(workers)))]

    def _key(self, block_id: str, replica: int) -> str:
        return f"dstream-block-{self._session}-{block_id}-{next(self._keys)}-r{replica}"

    def _scatter(self, block: DaskBlock, data: bytes, n: int) -> None:
        """Scatter ``n`` replicas, each to its own worker. A worker that could not take its
        replica (it died since the last look) is left out of the retry, which reads a fresh
        worker list, unless no other worker is left."""
        last_error: BaseException | None = None
        failed: set[str] = set()
        for attempt in range(3):
            refresh = attempt > 0
            # every worker failed once: try them again (the list was just read, if at all)
            targets = self._targets(n, failed, refresh) or self._targets(n, set(), False)
            if not targets:
                self._client.wait_for_workers(1, timeout=60)
                continue
            placed: list[tuple[Future[bytes], str]] = []
            worker = ""
            try:
                for i, worker in enumerate(targets):
                    key = self._key(block.block_id, i)
                    # (distributed's scatter() has no annotations)
                    future: Future[bytes] = self._client.scatter(  # type: ignore[no-untyped-call]
                        {key: data}, workers=[worker], hash=False, timeout=_SCATTER_WAIT_S)[key]
                    placed.append((future, worker))
            except Exception as e:  # noqa: BLE001 - a worker gone meanwhile: retry elsewhere
                last_error = e
                failed.add(worker)
                for future, _ in placed:
                    future.release()  # type: ignore[no-untyped-call]  # no annotations
                continue
            block.replicas = placed
            return
        raise BlockLostError(f"received block {block.block_id} could not be put on the Dask "
                             f"workers ({last_error!r}); check that the cluster has running "
                             "workers") from last_error

    def _copy_to_others(self, block: DaskBlock, source: Future[bytes]) -> None:
        """Bring the replica count back up with copies on workers that hold none (a task per
        copy, pinned to its worker; the driver does not wait for it)."""
        held = {w for _, w in block.replicas}
        for worker in self._targets(block.wanted - len(block.replicas), held, refresh=True):
            key = self._key(block.block_id, len(block.replicas))
            copy = self._client.submit(_copy, source, key=key, workers=[worker],
                                       allow_other_workers=False, pure=False)
            block.replicas.append((copy, worker))
