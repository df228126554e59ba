"""``dask://HOST:PORT`` and ``dask-local[N]``: tasks run on a Dask distributed cluster.

The stage's code is pickled once per stage (cloudpickle). Up to 64 KiB (the setting
``dstream.dask.inlineStageCodeBytes``) it travels inside each task of the stage; larger code
is one small Dask task whose result (the bytes) every task of the stage takes as an argument.
Each worker unpickles it once and keeps it. Every dstream task is one Dask task running
``run_task``.

Tasks are not sent one by one: ``submit`` adds them to a pending graph (``dask_graph``) and
``flush`` (the DAG scheduler's, before it waits for a task) sends all of a job's stages to the
Dask scheduler in one message. A task's result reaches the driver with the task's end: the
task logs the driver's part of it (the value of a result task, accumulator updates, the keys
of the cached blocks it wrote) as a Dask event on this backend's topic, which the scheduler
forwards to the client in the same stream as the task's end; the driver completes the task
once it has both. A driver's part over 4 KiB is left out of the event and fetched (a result
task's result, or a small Dask task picking it out of a map task's result).

A shuffle-map task's buckets stay on the worker that wrote them: the driver holds one handle
per bucket (``value`` of the ``TaskResult``, known from submission on: ``pending_outputs``, so
the scheduler submits the reduce tasks at once and Dask runs the job as one graph). Up to
``dstream.dask.wholeMapOutputPartitions`` reduce partitions (default 2), a handle is the map
task itself and the reduce task picks its bucket out of the map result on its worker (no Dask
hop in between; a reduce task on another worker fetches the whole map output); wider shuffles
get one small Dask task per bucket. Dask resolves them on the worker that runs the reduce
task. Cached RDD partitions (``persist``, and so the state and window RDDs of streams) stay on
the worker that computed them the same way: the driver's block manager holds a
``DaskCachedBlock`` (a future) and later tasks take it as a dependency; the storage level's
disk and replica count do not apply there (Dask's own memory limits and spilling do). Only
action results reach the driver.

Received blocks live on the workers (``dask_blocks``): the driver's block manager holds a
``DaskBlock`` handle (with the driver's own replica of the bytes, ``dstream.dask.driverReplica``),
and a task that reads the block takes a live worker replica's future as a dependency,
restricted (loosely) to the worker that holds it. The driver's client sends blocks
to the workers and reads results from them directly (``dstream.dask.directToWorkers``; on
``dask-local[N]`` by default): through the scheduler, which in ``dask-local[N]`` lives in the
driver's process, every byte would cross two connections and the driver's process would carry
three of their four ends.

A worker that dies takes its running tasks with it: their futures fail with
``WorkerLostError`` and the scheduler runs them again. Map outputs lost with a worker are
recomputed by Dask from their lineage (the map task's own Dask task) when a reduce task needs
them; a map output that Dask cannot recompute (its map task read a received block whose
replica died with the same worker) is reported by ``outputs_lost``, and the DAG scheduler runs
that map task again. ``dask-local[N]`` sets the scheduler's ``allowed-failures`` to 0, so a
task that kills its worker is retried by dstream (with a new attempt number), not re-run by
Dask as the same attempt (``LOCAL_CLUSTER_CONFIG``: that, and the dashboard's samplers off).

Dask batches the messages on its streams (client, scheduler, workers) with intervals of 2-10 ms
that a small job waits out hop after hop; the backend sets them to ``dstream.dask.batchInterval``
(0.1 ms) on its client and, on ``dask-local[N]`` (or with ``dstream.dask.batchIntervalScope``
``cluster``), on the scheduler and every worker (``dask_intervals``).

Hashing: dstream partitions ``str`` keys by their seed-0 hash, as PySpark does. Dask's own nanny
starts its worker with ``PYTHONHASHSEED=6640`` whenever the seed would be unset or 0
(dask/distributed#8400), so such a worker computes that hash in Python (``dstream.hashing``:
correct, slower). The nannies of ``dask-local[N]`` start their workers with
``PYTHONHASHSEED=0``, as PySpark starts its Python workers (``SeedZeroNanny``), and those use
the builtin hash. On a cluster of your own, workers started without a nanny
(``dask worker --no-nanny``) under ``PYTHONHASHSEED=0`` do too.
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
import pickle
import threading
import traceback
import uuid
from collections import OrderedDict
from concurrent.futures import CancelledError, Future, InvalidStateError, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable

import dask
from distributed import Client, LocalCluster, Nanny, get_worker

from ..errors import WorkerLostError
from ..scheduler.task import run_task
from ..serialization import dumps_code, dumps_data
from ..taskcontext import Serialized
from .base import ExecutorBackend
from .dask_blocks import DaskBlock, DaskBlockStore, DaskCachedBlock
from .dask_graph import DaskTask, PendingGraph
from .dask_intervals import BatchIntervals
from .processes import _rebuild_error

if TYPE_CHECKING:
    from ..conf import Conf
    from ..rdd import RDD
    from ..scheduler.task import StageBinary, TaskResult

__all__ = ["DaskBackend"]

log = logging.getLogger(__name__)
_STAGE_CACHE_SIZE = 64
#: the setting: stage code up to this many bytes (default 64 KiB) is sent with each task,
#: larger code once per stage as a Dask task (0: always as a task)
INLINE_CODE_KEY = "dstream.dask.inlineStageCodeBytes"
#: the setting: a shuffle of up to this many reduce partitions (default 2) has its reduce
#: tasks take the map tasks' results themselves, each picking its bucket on its worker (one
#: Dask hop less; a reduce task on another worker fetches the whole map output, so up to
#: this many times the shuffle's bytes cross between workers); wider shuffles get one small
#: Dask task per bucket that the reduce task takes (0: always)
WHOLE_OUTPUT_KEY = "dstream.dask.wholeMapOutputPartitions"
#: the setting: blocks to the workers and results back directly (true), through the scheduler
#: (false), or auto: directly on dask-local[N], Dask's own choice on dask://
DIRECT_KEY = "dstream.dask.directToWorkers"
#: the setting: the driver keeps one replica of each received block (dask_blocks)
DRIVER_REPLICA_KEY = "dstream.dask.driverReplica"
#: Dask's settings for a ``dask-local[N]`` cluster (its scheduler, nannies and workers; the
#: nannies hand them to the workers they restart). A task whose worker dies fails at once and
#: dstream retries it (``allowed-failures`` 0). The workers' statistical profiler (a stack sample
#: every 10 ms) and the system monitor's frequent samples (CPU, memory, disk and network, every
#: 0.5 s) feed Dask's dashboard, which this cluster does not serve: the profiler is off, the
#: monitor samples every 2 s without disk counters. Every Dask server (the scheduler and the
#: nannies, in the driver's process, and each worker) checks its event loop's health every
#: 20 ms, and each nanny and worker its process's memory every 100 ms: about 300 wake-ups a
#: second on this cluster for a warning after 3 s blocked, and for limits that memory reaches
#: over seconds. They run every 1 s and 0.5 s.
LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    "distributed.scheduler.allowed-failures": 0,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.disk": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "500ms",
}


class SeedZeroNanny(Nanny):
    """Dask's nanny, starting its worker with ``PYTHONHASHSEED=0`` where Dask's would pick 6640:
    the worker's builtin ``hash(str)`` is then the seed-0 hash dstream partitions by, as in
    PySpark's Python workers. ``dask-local[N]`` uses it; restarted workers get the seed too.

    >>> issubclass(SeedZeroNanny, Nanny)
    True
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pre_spawn_env["PYTHONHASHSEED"] = "0"   # read by the new interpreter at its start
        self.env["PYTHONHASHSEED"] = "0"


#: a task's result for the driver travels in its Dask event up to this many bytes (pickled);
#: the scheduler keeps the last 1000 events of a topic, so at most 4 MB of them
_EVENT_BYTES = 4 << 10


# ---------------------------------------------------------------------- worker side
class DaskTaskError(Exception):
    """A task's failure as it crosses from a Dask worker: the pickled exception (or ``None``),
    its type name, message and the worker-side traceback."""

    def __str__(self) -> str:
        return f"{self.args[1]}: {self.args[2]}" if len(self.args) == 4 else super().__str__()

    def __repr__(self) -> str:   # Dask's worker logs the repr of a failed task's exception
        return f"DaskTaskError({self})"


_stages: OrderedDict[str, Any] = OrderedDict()
_stages_lock = threading.Lock()


def _identity(x: Any) -> Any:
    return x


class _InlineCode(bytes):
    """Stage code small enough to travel inside every task of the stage (never lost)."""

    status = "finished"


def _load_stage(token: str, code: bytes) -> Any:
    with _stages_lock:
        stage = _stages.get(token)
        if stage is not None:
            _stages.move_to_end(token)
            return stage
    stage = pickle.loads(code)
    with _stages_lock:
        _stages[token] = stage
        if len(_stages) > _STAGE_CACHE_SIZE:
            _stages.popitem(last=False)
    return stage


def _run_on_worker(token: str, code: bytes, split: int, attempt: int, inputs_bytes: bytes,
                   remote_keys: list[Any], remote_values: list[Any],
                   picks: dict[int, int] | None, report: _Report) -> TaskResult | None:
    """One dstream task inside a Dask worker; ``remote_values`` arrive resolved by Dask: a
    shuffle's buckets (lists; for the positions in ``picks``, whole map results of which the
    task takes bucket ``picks[position]``) and received blocks (the bytes of a replica).
    The driver's part of the result goes out as an event (``report``); what is returned stays
    on the worker for the tasks that read it (``None`` when none will)."""
    try:
        stage = _load_stage(token, code)
        inputs = pickle.loads(inputs_bytes)
        for position, index in (picks or {}).items():
            remote_values[position] = [r.value[index] for r in remote_values[position]]
        inputs.update((k, Serialized(v) if isinstance(v, bytes) else v)
                      for k, v in zip(remote_keys, remote_values))
        result = run_task(stage, split, attempt, inputs, serialize=True)
        return _send_report(result, report)
    except BaseException as e:  # noqa: B902 - every failure goes back to the driver
        text = traceback.format_exc()
        exc_bytes: bytes | None
        try:
            exc_bytes = dumps_data(e)
            pickle.loads(exc_bytes)
        except Exception:
            exc_bytes = None
        raise DaskTaskError(exc_bytes, type(e).__qualname__, str(e), text) from None


class _Report(tuple[str, str, bool, list[Any]]):
    """Where and what a task reports to the driver: ``(topic, key, keep_value, kept)``, the
    value kept unless the task is a map task, ``kept`` the keys of cached blocks that stay on
    the worker."""


def _send_report(result: TaskResult, report: _Report) -> TaskResult | None:
    """Log the driver's part of ``result`` as a Dask event (without it when over
    ``_EVENT_BYTES``); the result to keep on the worker, ``None`` when the event holds all of
    a result task's result."""
    topic, key, keep_value, kept = report
    pickled = dumps_data(_side_outputs(result, keep_value, kept))
    data = pickled if len(pickled) <= _EVENT_BYTES else None
    get_worker().log_event(topic, {"key": key, "result": data})
    if data is not None and keep_value and not kept:
        return None
    return result


def _side_outputs(result: TaskResult, keep_value: bool, kept: list[Any]) -> TaskResult:
    """What the driver gets of a task whose buckets (``keep_value`` False) or cached blocks
    (keys ``kept``) stay on the worker: the kept blocks' keys only, with ``None`` for bytes."""
    blocks = {k: (None if k in kept else v) for k, v in result.blocks.items()}
    return type(result)(result.value if keep_value else None, blocks, result.accumulator_updates)


def _cached_block(result: TaskResult, key: Any) -> Any:
    return result.blocks.get(key)


def _bucket(result: TaskResult, index: int) -> Any:
    return result.value[index]


class _WholeOutput:
    """A reduce partition's bucket of a map task, read from the map task's whole result by the
    reduce task itself."""

    def __init__(self, task: DaskTask, index: int) -> None:
        self.task = task
        self.index = index

    @property
    def status(self) -> str:
        return self.task.status


# ---------------------------------------------------------------------- driver side
def _direct_to_workers(conf: Conf | None, owns_cluster: bool) -> bool | None:
    """The Dask client's ``direct_to_workers`` under ``dstream.dask.directToWorkers``: ``True``
    when the driver talks to the workers itself (each block's bytes cross one connection, not
    two through the scheduler), ``False`` through the scheduler, ``None`` for Dask's own choice
    (through the scheduler, from a driver that is not itself a Dask worker).

    >>> from dstream.conf import Conf
    >>> _direct_to_workers(None, owns_cluster=True), _direct_to_workers(None, owns_cluster=False)
    (True, None)
    >>> _direct_to_workers(Conf().set(DIRECT_KEY, "true"), owns_cluster=False)
    True
    >>> _direct_to_workers(Conf().set(DIRECT_KEY, "false"), owns_cluster=True)
    False
    """
    choice = conf.get(DIRECT_KEY, "auto") if conf is not None else "auto"
    if choice == "auto":
        return True if owns_cluster else None
    return choice == "true"


class _TaskFuture(Future["TaskResult"]):
    """The driver's future of a dstream task; a map task's bucket handles (``outputs``: bucket
    tasks, or ``_WholeOutput``) are known from submission on."""

    outputs: list[Any] | None = None


class _Watch:
    """A submitted dstream task until the driver has its result: its Dask task's end and the
    event with the driver's part of its result, which arrive in either order."""

    __slots__ = ("future", "task", "handles", "blocks", "description", "keep_value", "kept",
                 "ended", "event", "handed")

    def __init__(self, future: _TaskFuture, task: DaskTask, handles: list[Any] | None,
                 blocks: dict[Any, DaskTask], description: str, keep_value: bool,
                 kept: list[Any]) -> None:
        self.future = future
        self.task = task
        self.handles = handles
        self.blocks = blocks
        self.description = description
        self.keep_value = keep_value
        self.kept = kept
        self.ended = False
        self.event: Any = _NO_EVENT
        self.handed = False

    def ready(self) -> bool:
        """Both arrived, or the task failed (no event to wait for)."""
        if not self.ended:
            return False
        return self.event is not _NO_EVENT or self.task.status != "finished"


_NO_EVENT = object()


class DaskBackend(ExecutorBackend):
    """Runs tasks on a Dask cluster: an existing one (``address``) or a LocalCluster of
    ``n_workers`` single-threaded worker processes that ``stop`` closes."""

    serializes = True
    stores_blocks = True

    def __init__(self, address: str | None = None, n_workers: int | None = None,
                 conf: Conf | None = None) -> None:
        self._cluster = None
        self._saved_seed = os.environ.get("PYTHONHASHSEED")
        if address is None:
            # No dashboard; the scheduler's HTTP server (metrics, health) takes a free port: with
            # no address it binds 8787, which another cluster on the machine may hold.
            # The nannies get a copy of the settings: their own reference to Dask's config
            # would see the block's changes undone when a worker is restarted.
            with dask.config.set(LOCAL_CLUSTER_CONFIG):
                self._cluster = LocalCluster(  # type: ignore[no-untyped-call]  # no annotations
                    n_workers=n_workers or 1, threads_per_worker=1,
                    processes=True, dashboard_address=None, worker_class=SeedZeroNanny,
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    config=copy.deepcopy(dask.config.config))
            self._restore_seed()
            address = self._cluster.scheduler_address
        self._session = uuid.uuid4().hex[:12]
        # Dask's batching of its message streams: everywhere on a cluster of our own, on our
        # client only on someone else's (dstream.dask.batchIntervalScope; dask_intervals)
        self._intervals = BatchIntervals.from_conf(conf, owns_cluster=self._cluster is not None)
        self._intervals_name = f"dstream-batch-interval-{self._session}"
        self._intervals_registered = False
        try:
            # (distributed's Client() and Client.nthreads() have no annotations)
            self._client = Client(  # type: ignore[no-untyped-call]
                address, set_as_default=False,
                direct_to_workers=_direct_to_workers(conf, owns_cluster=self._cluster is not None))
            self._intervals_registered = self._intervals.apply(self._client, self._intervals_name)
            if self._cluster is None:
                self._client.wait_for_workers(1, timeout=60)
            nthreads: dict[str, int] = self._client.nthreads()  # type: ignore[no-untyped-call]
            self.parallelism = max(1, sum(nthreads.values()))
        except BaseException:
            if self._cluster is not None:
                self._cluster.close()
            raise
        self._inline_code_bytes = conf.getInt(INLINE_CODE_KEY, 64 << 10) if conf else 64 << 10
        self._whole_output_partitions = conf.getInt(WHOLE_OUTPUT_KEY, 2) if conf else 2
        self._blocks = DaskBlockStore(self._client, self._session, driver_replica=(
            conf.getBoolean(DRIVER_REPLICA_KEY, True) if conf else True))
        self._keys = itertools.count()
        self._stage_code: dict[int, tuple[str, Any]] = {}
        self._lock = threading.Lock()
        self._stopped = False
        self._graph = PendingGraph(self._client)
        self._watches: dict[str, _Watch] = {}
        # the tasks' reports; subscribed before any task is sent (one ordered stream)
        self._topic = f"dstream-results-{self._session}"
        self._client.subscribe_topic(  # type: ignore[no-untyped-call]  # no annotations
            self._topic, self._on_event)
        # completes tasks off Dask's threads (its event loop and its single callback thread)
        self._gather = ThreadPoolExecutor(max(2, self.parallelism), thread_name_prefix="dstream-dask")

    # ------------------------------------------------------------------ interface
    def submit(self, stage: StageBinary, split: int, attempt: int,
               inputs: dict[Any, Any], background: bool = False) -> Future[TaskResult]:
        """Adds the task to the pending graph; ``flush`` sends it. A ``background`` task has
        a lower Dask priority than the others."""
        future = _TaskFuture()
        try:
            with self._lock:
                if self._stopped:
                    raise RuntimeError("the executor backend is stopped")
            token, code = self._code_of(stage)
            plain, remote_keys, remote_values, where, picks = self._split_inputs(inputs)
            name = f"dstream-{self._session}-{stage.stage_id}-{split}-{attempt}-{next(self._keys)}"
            kept = _cached_outputs(stage.rdd, split, inputs)
            keep_value = stage.kind != "shuffle"
            report = _Report((self._topic, name, keep_value, kept))
            task = self._graph.add(name, _run_on_worker, token, code, split, attempt,
                                   dumps_data(plain), remote_keys, remote_values, picks or None,
                                   report, workers=where, priority=-1 if background else 0)
            handles, blocks = self._outputs(stage, task, name, kept)
        except BaseException as e:  # noqa: B902 - handed to the scheduler
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            future.set_exception(e)
            return future
        future.outputs = handles
        description = f"task {split} of stage {stage.stage_id} ({stage.description})"
        watch = _Watch(future, task, handles, blocks, description, keep_value, kept)
        with self._lock:
            self._watches[name] = watch
        future.add_done_callback(lambda f: self._cancel(watch) if f.cancelled() else None)
        return future

    def flush(self) -> None:
        for task in self._graph.send():
            with self._lock:
                watch = self._watches.get(task.key)
            if watch is not None and task.future is not None:
                task.future.add_done_callback(  # type: ignore[no-untyped-call]  # no annotations
                    lambda _, w=watch: self._on_end(w))

    def pending_outputs(self, future: Future[TaskResult]) -> list[Any] | None:
        # the bucket handles exist from submission on: reduce tasks take them as dependencies
        return future.outputs if isinstance(future, _TaskFuture) else None

    def store_block(self, block_id: str, data: Serialized, replicas: int,
                    recover: Callable[[], Serialized] | None = None) -> DaskBlock:
        return self._blocks.put(block_id, data, replicas, recover)

    def outputs_lost(self, outputs: list[Any]) -> bool:
        # a cancelled bucket was forgotten by the scheduler: its map task could not be
        # recomputed (it read a received block whose replica died with the same worker)
        return any(getattr(f, "status", None) in ("cancelled", "error") for f in outputs)

    def forget_stage(self, stage_id: int) -> None:
        with self._lock:
            self._stage_code.pop(stage_id, None)

    def worker_pids(self) -> list[int]:
        return sorted(self._client.run(os.getpid).values())

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            self._stage_code.clear()
        if self._intervals_registered and self._cluster is None:
            try:    # someone else's cluster: its streams get back the intervals they had
                self._intervals.undo(self._client, self._intervals_name)
            except Exception:  # noqa: BLE001 - the client closes regardless
                log.warning("could not put back Dask's batch intervals on the cluster",
                            exc_info=True)
        try:
            # cancels what still runs: those tasks fail, not hang
            self._client.close()  # type: ignore[no-untyped-call]  # no annotations
        finally:
            self._gather.shutdown(wait=True)
            if self._cluster is not None:
                self._cluster.close()
                self._restore_seed()

    # ------------------------------------------------------------------ internals
    def _outputs(self, stage: StageBinary, task: DaskTask, name: str,
                 kept: list[Any]) -> tuple[list[Any] | None, dict[Any, DaskTask]]:
        """A map task's bucket handles, and the tasks picking out the cached partitions that
        ``task`` computes (they stay on the worker)."""
        handles: list[Any] | None = None
        if stage.kind == "shuffle":
            assert stage.partitioner is not None   # a map stage has a partitioner
            n = stage.partitioner.numPartitions
            if n <= self._whole_output_partitions:
                handles = [_WholeOutput(task, i) for i in range(n)]
            else:
                handles = [self._graph.add(f"{name}-bucket-{i}", _bucket, task, i)
                           for i in range(n)]
        blocks = {key: self._graph.add(f"{name}-rdd-{key[0]}-{key[1]}", _cached_block, task, key)
                  for key in kept}
        return handles, blocks

    def _split_inputs(self, inputs: dict[Any, Any]
                      ) -> tuple[dict[Any, Any], list[Any], list[Any], list[str], dict[int, int]]:
        """Plain inputs (shipped pickled with the task) apart from the ones on workers: shuffle
        buckets and received blocks (as Dask futures), the workers holding those blocks, and
        which shuffle inputs are whole map results (their position: the bucket to pick)."""
        plain: dict[Any, Any] = {}
        keys: list[Any] = []
        values: list[Any] = []
        where: list[str] = []
        picks: dict[int, int] = {}
        for key, value in inputs.items():
            if _is_shuffle_key(key):
                value = list(value)
                if value and isinstance(value[0], _WholeOutput):   # one partitioner: all alike
                    picks[len(values)] = value[0].index
                    value = [bucket.task for bucket in value]
                keys.append(key)
                values.append(value)
            elif isinstance(value, DaskBlock):
                future, worker = self._blocks.input_of(value)
                keys.append(key)
                values.append(future)
                where.append(worker)
            elif isinstance(value, DaskCachedBlock):
                keys.append(key)
                values.append(value.future)
            else:
                plain[key] = value
        return plain, keys, values, where, picks

    def _code_of(self, stage: StageBinary) -> tuple[str, Any]:
        with self._lock:
            known = self._stage_code.get(stage.stage_id)
            # a code task that erred (its worker died while it ran: KilledWorker) is made again
            if known is not None and known[1].status not in ("error", "cancelled"):
                return known
        code = dumps_code(stage)
        token = f"dstream-stage-{self._session}-{stage.stage_id}-{uuid.uuid4().hex[:8]}"
        if len(code) <= self._inline_code_bytes:
            # small code goes with each task (no task to wait for: one Dask hop less per stage)
            entry: tuple[str, Any] = (token, _InlineCode(code))
        else:
            # a task, not scattered data: Dask can run it again if the worker holding it is lost
            entry = (token, self._graph.add(token, _identity, code))
        with self._lock:
            known = self._stage_code.get(stage.stage_id)
            if known is None or known[1].status in ("error", "cancelled"):
                self._stage_code[stage.stage_id] = known = entry
            return known

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        """The Dask client's event loop: a task's report."""
        message = event[1]
        with self._lock:
            watch = self._watches.get(message["key"])
            if watch is None:    # already failed, or a map task that Dask computed again
                return
            watch.event = message["result"]
        self._hand_over_if_ready(watch)

    def _on_end(self, watch: _Watch) -> None:
        """Dask's callback thread: the task's Dask future finished, failed or was cancelled."""
        with self._lock:
            watch.ended = True
        self._hand_over_if_ready(watch)

    def _hand_over_if_ready(self, watch: _Watch) -> None:
        with self._lock:
            if watch.handed or not watch.ready():
                return
            watch.handed = True
            self._watches.pop(watch.task.key, None)
        try:
            self._gather.submit(self._complete, watch)
        except RuntimeError:   # stopped: the executor no longer takes work
            _set(watch.future, error=RuntimeError("the executor backend stopped while a task ran"))

    def _cancel(self, watch: _Watch) -> None:
        with self._lock:
            self._watches.pop(watch.task.key, None)
        if watch.task.future is not None:
            watch.task.future.cancel()  # type: ignore[no-untyped-call]  # no annotations

    def _complete(self, watch: _Watch) -> None:
        future, dask_future = watch.future, watch.task.future
        if future.done():
            return
        try:
            result = self._result_of(watch, dask_future)
        except DaskTaskError as e:
            error: BaseException = _rebuild_error(*e.args)
        except (CancelledError, Exception) as e:  # lost worker (KilledWorker), cancelled, comms
            if type(e).__name__ == "CancelledError" and self._stopped:
                error = RuntimeError("the executor backend stopped while a task ran")
            else:
                error = WorkerLostError(f"{watch.description} did not finish on the Dask "
                                        f"cluster: {e!r}")
                error.__cause__ = e
        else:
            if watch.handles is not None:
                result.value = watch.handles
            for key, value in result.blocks.items():
                made = watch.blocks[key].future if key in watch.blocks else None
                if value is None and made is not None:
                    result.blocks[key] = DaskCachedBlock(f"rdd_{key[0]}_{key[1]}", made)
            _set(future, result=result)
            return
        _set(future, error=error)

    def _result_of(self, watch: _Watch, dask_future: Any) -> TaskResult:
        """The driver's part of a finished task's result: from its event, else fetched (a
        small task picks it out of a result that stays on the worker)."""
        if dask_future.status != "finished":
            dask_future.result()         # raises the task's error (or waits for a rerun)
        result: TaskResult
        if isinstance(watch.event, bytes):
            result = pickle.loads(watch.event)
        elif watch.keep_value and not watch.kept:
            result = dask_future.result()
        else:
            result = self._client.submit(_side_outputs, dask_future, watch.keep_value,
                                         watch.kept, key=f"{watch.task.key}-side",
                                         pure=False).result()
        return result

    def _restore_seed(self) -> None:
        # a nanny writes PYTHONHASHSEED into the driver's own environment before it spawns a
        # worker; put back what the driver had so later subprocesses are not affected
        if self._saved_seed is None:
            os.environ.pop("PYTHONHASHSEED", None)
        else:
            os.environ["PYTHONHASHSEED"] = self._saved_seed


def _cached_outputs(rdd: RDD[Any], split: int, inputs: dict[Any, Any]) -> list[tuple[int, int]]:
    """Keys of the cached partitions a task computes (and stores): the cached RDDs its narrow
    lineage reaches before an input (source, cached or checkpointed partition) or a shuffle."""
    found: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    stack = [(rdd, split)]
    while stack:
        node, s = stack.pop()
        key = (node.id, s)
        if key in seen or key in inputs:
            continue
        seen.add(key)
        if node.is_cached:
            found.append(key)
        stack.extend(node.narrow_parents(s))
    return found


def _is_shuffle_key(key: Any) -> bool:
    return isinstance(key, tuple) and len(key) == 3 and key[0] == "shuffle"


def _set(future: Future[TaskResult], result: Any = None, error: BaseException | None = None) -> None:
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:  # cancelled by the scheduler meanwhile
        pass
