"""``Context``: the entry point of the batch engine (PySpark's ``SparkContext``).

>>> with Context("local[1]", "demo") as ctx:
...     ctx.parallelize(range(11), 3).glom().map(len).collect()
[3, 4, 4]
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar, cast

from . import allocator, console_log
from .accumulators import Accumulator, AccumulatorParam
from .block_manager import BlockManager
from .broadcast import Broadcast
from .conf import APP_NAME_KEY, MASTER_KEY, Conf
from .errors import ContextStateError
from .executors import create_backend, parse_master
from .log4j_shim import JvmAttribute
from .rdd import RDD
from .rdd_checkpoint import checkpoint_requested_in, materialize_checkpoint
from .rdd_kinds import EmptyRDD, ParallelCollectionRDD, PartitionerAwareUnionRDD, UnionRDD
from .scheduler import DAGScheduler
from .textfiles import TextFileRDD, WholeTextFilesRDD
from .version import __version__

__all__ = ["Context"]

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger(__name__)

_active_lock = threading.RLock()
_active: Context | None = None


class Context:
    """Holds the executor backend, the scheduler and the block manager; makes RDDs.

    One Context may be active per process, as with PySpark's SparkContext. ``master`` is
    ``local`` (tasks in the driver thread), ``local[N]`` or ``local[*]`` (worker processes).
    """

    #: PySpark's ``sc._jvm``, for the log4j idioms that set log levels (see ``log4j_shim``)
    _jvm = JvmAttribute()

    def __init__(self, master: str | None = None, appName: str | None = None,
                 conf: Conf | None = None, **_pyspark_compat: Any) -> None:
        global _active
        console_log.install()          # PySpark-like console lines unless the program logs itself
        self._conf = conf.copy() if conf is not None else Conf()
        self._conf.validate()          # unknown dstream.* keys and mistyped values fail here
        if master is not None:
            self._conf.setMaster(master)
        if appName is not None:
            self._conf.setAppName(appName)
        self.master = self._conf.get(MASTER_KEY) or "local[*]"
        self.appName = self._conf.get(APP_NAME_KEY) or "dstream"
        self._conf.setMaster(self.master).setAppName(self.appName)
        if self._conf.getBoolean(allocator.SETTING, True):
            allocator.tune_this_process()
        kind, parallelism = parse_master(self.master)
        with _active_lock:
            if _active is not None:
                raise ValueError(
                    f"Cannot run multiple Contexts at once; existing Context(app={_active.appName}, "
                    f"master={_active.master}) is active: stop() it first or use Context.getOrCreate()")
            _active = self
        self._stopped = False
        self._rdd_ids = iter(range(1 << 62))
        self._rdd_id_lock = threading.Lock()
        self._local_dir = tempfile.mkdtemp(prefix="dstream-")
        self._checkpoint_dir: str | None = None
        self._pending_checkpoints = 0
        self._checkpointing: set[int] = set()   # ids of RDDs whose checkpoint is being written
        self._block_manager = BlockManager(
            os.path.join(self._local_dir, "blocks"),
            self._conf.getInt("dstream.storage.memoryBudgetBytes", 512 << 20))
        try:
            self._backend = create_backend(self.master, self._conf, self._local_dir)
        except BaseException:
            self._release()
            raise
        self._parallelism = self._backend.parallelism or parallelism
        self._scheduler = DAGScheduler(self._backend, self._block_manager,
                                       self._conf.getInt("dstream.task.maxFailures", 4))

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def getOrCreate(cls, conf: Conf | None = None) -> Context:
        """The active Context, or a new one made from ``conf``.

        >>> Context.getOrCreate() is sc
        True
        >>> Context("local[2]")      # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        ValueError: Cannot run multiple Contexts at once; existing Context(app=doctest, ...
        """
        with _active_lock:
            return _active if _active is not None else cls(conf=conf)

    @classmethod
    def _active_context(cls) -> Context | None:
        return _active

    def stop(self) -> None:
        """Stop the executors and release the context's files; safe to call twice.

        >>> sc.stop()
        >>> sc.stop()            # a second stop does nothing
        >>> sc.parallelize([1])
        Traceback (most recent call last):
            ...
        dstream.errors.ContextStateError: this Context has been stopped; create a new one
        """
        if self._stopped:
            return
        self._stopped = True
        try:
            self._backend.stop()
        finally:
            self._release()

    def _release(self) -> None:
        global _active
        shutil.rmtree(self._local_dir, ignore_errors=True)
        with _active_lock:
            if _active is self:
                _active = None

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __reduce__(self) -> Any:
        raise RuntimeError(
            "It appears that you are attempting to reference the Context from a broadcast "
            "variable, action, or transformation. The Context can only be used on the driver, "
            "not in code that runs on workers.")

    def _check_running(self) -> None:
        if self._stopped:
            raise ContextStateError("this Context has been stopped; create a new one")

    # ------------------------------------------------------------------ properties
    @property
    def defaultParallelism(self) -> int:
        """Partitions of ``parallelize`` without ``numSlices``: ``spark.default.parallelism``,
        else the executors' cores.

        >>> sc.defaultParallelism, sc.parallelize([1, 2, 3]).getNumPartitions()
        (1, 1)
        """
        return self._conf.getInt("spark.default.parallelism", self._parallelism)

    @property
    def defaultMinPartitions(self) -> int:
        """Partitions of ``textFile`` without ``minPartitions``: ``min(defaultParallelism, 2)``.

        >>> sc.defaultMinPartitions
        1
        """
        return min(self.defaultParallelism, 2)

    def getConf(self) -> Conf:
        """A copy of this Context's configuration.

        >>> conf = sc.getConf()
        >>> conf.get("spark.master"), conf.get("spark.app.name")
        ('local', 'doctest')
        """
        return self._conf.copy()

    @property
    def version(self) -> str:
        """The version of dstream this Context runs.

        >>> from dstream import __version__
        >>> sc.version == __version__
        True
        """
        return __version__

    def setLogLevel(self, logLevel: str) -> None:
        """The level of dstream's log lines: PySpark's names (ALL, DEBUG, ERROR, FATAL, INFO,
        OFF, TRACE, WARN) or Python's, any case.

        >>> sc.setLogLevel("error")
        >>> logging.getLogger("dstream").level == logging.ERROR
        True
        """
        console_log.set_level(logLevel)

    def setCheckpointDir(self, dirName: str) -> None:
        """The directory where ``RDD.checkpoint`` writes (made if missing).

        >>> import os, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     sc.setCheckpointDir(os.path.join(tmp, "checkpoints"))
        ...     sc.getCheckpointDir() == os.path.join(os.path.abspath(tmp), "checkpoints")
        True
        """
        os.makedirs(dirName, exist_ok=True)
        self._checkpoint_dir = os.path.abspath(dirName)

    def getCheckpointDir(self) -> str | None:
        """The directory set with ``setCheckpointDir`` (made absolute), or None.

        >>> import os, tempfile
        >>> before = sc.getCheckpointDir()
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     sc.setCheckpointDir(tmp)
        ...     before, sc.getCheckpointDir() == os.path.abspath(tmp)
        (None, True)
        """
        return self._checkpoint_dir

    # ------------------------------------------------------------------ making RDDs
    def parallelize(self, c: Iterable[T], numSlices: int | None = None) -> RDD[T]:
        """Slices of a collection, cut exactly as PySpark cuts them (lists are sliced in
        batches of ``len // numSlices`` elements; ranges arithmetically).

        >>> sc.parallelize([1, 2, 3], 5).glom().collect()
        [[], [1], [], [2], [3]]
        """
        self._check_running()
        n = self.defaultParallelism if numSlices is None else numSlices
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"numSlices must be an int >= 1, got {numSlices!r}")
        if isinstance(c, range):
            # c is a range, so T is int
            return ParallelCollectionRDD(self, cast("list[Sequence[T]]", _slice_range(c, n)))
        return ParallelCollectionRDD(self, _slice_list(list(c), n))

    def range(self, start: int, end: int | None = None, step: int = 1,
              numSlices: int | None = None) -> RDD[int]:
        """Integers from ``start`` (or 0) to ``end`` by ``step``, sliced like ``parallelize(range(...))``.

        >>> sc.range(1, 7, 2).collect()
        [1, 3, 5]
        """
        if end is None:
            start, end = 0, start
        return self.parallelize(range(start, end, step), numSlices)

    def emptyRDD(self) -> RDD[Any]:
        """An RDD with no partitions and no elements.

        >>> rdd = sc.emptyRDD()
        >>> rdd.getNumPartitions(), rdd.collect(), rdd.isEmpty()
        (0, [], True)
        """
        self._check_running()
        return EmptyRDD(self)

    def textFile(self, name: str, minPartitions: int | None = None, use_unicode: bool = True) -> RDD[str]:
        """Lines of a text file, a directory of them, or a glob (UTF-8).

        >>> import os, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = os.path.join(tmp, "sample.txt")
        ...     with open(path, "w") as f:
        ...         _ = f.write("Hello world!\\nsecond line\\n")
        ...     sc.textFile(path).collect()
        ['Hello world!', 'second line']
        """
        self._check_running()
        return TextFileRDD(self, name, self.defaultMinPartitions if minPartitions is None else minPartitions)

    def wholeTextFiles(self, path: str, minPartitions: int | None = None,
                       use_unicode: bool = True) -> RDD[tuple[str, str]]:
        """Pairs ``(path, content)``, one per file of a directory or glob (UTF-8).

        >>> import os, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     for name, text in [("1.txt", "1"), ("2.txt", "2")]:
        ...         with open(os.path.join(tmp, name), "w") as f:
        ...             _ = f.write(text)
        ...     files = sorted(sc.wholeTextFiles(tmp).collect())
        >>> [(path.startswith("file:/"), os.path.basename(path), text) for path, text in files]
        [(True, '1.txt', '1'), (True, '2.txt', '2')]
        """
        self._check_running()
        return WholeTextFilesRDD(self, path, self.defaultMinPartitions if minPartitions is None else minPartitions)

    def union(self, rdds: list[RDD[T]]) -> RDD[T]:
        """The partitions of each RDD, one after another (kept aligned when all share a partitioner).

        >>> sc.union([sc.parallelize([1]), sc.parallelize([2, 3])]).collect()
        [1, 2, 3]
        """
        self._check_running()
        rdds = list(rdds)
        if not rdds:
            raise ValueError("union needs at least one RDD")
        for r in rdds:
            if not isinstance(r, RDD):
                raise TypeError(f"union takes RDDs, got {type(r).__name__}")
        partitioner = rdds[0].partitioner
        if partitioner is not None and all(r.partitioner == partitioner for r in rdds):
            return PartitionerAwareUnionRDD(self, rdds)
        return UnionRDD(self, rdds)

    def broadcast(self, value: T) -> Broadcast[T]:
        """A read-only ``Broadcast`` of ``value``, shipped to each worker once.

        >>> b = sc.broadcast([1, 2, 3])
        >>> b.value
        [1, 2, 3]
        >>> sc.parallelize([0, 0]).flatMap(lambda x: b.value).collect()
        [1, 2, 3, 1, 2, 3]
        """
        self._check_running()
        fd, path = tempfile.mkstemp(prefix="broadcast-", dir=self._local_dir)
        os.close(fd)
        return Broadcast(value, path)

    def accumulator(self, value: T, accum_param: AccumulatorParam[T] | None = None) -> Accumulator[T]:
        """An ``Accumulator`` starting at ``value``; ``accum_param`` says how to add (``+`` by
        default).

        >>> acc = sc.accumulator(0)
        >>> sc.parallelize([1, 2, 3, 4]).foreach(lambda x: acc.add(x))
        >>> acc.value
        10
        """
        return Accumulator(value, accum_param) if accum_param is not None else Accumulator(value)

    # ------------------------------------------------------------------ running jobs
    def runJob(self, rdd: RDD[T], partitionFunc: Callable[[Iterator[T]], Iterable[Any]],
               partitions: list[int] | None = None, allowLocal: bool = False) -> list[Any]:
        """PySpark's ``runJob``: apply ``partitionFunc`` to partitions, results concatenated.

        >>> rdd = sc.parallelize(range(6), 3)
        >>> sc.runJob(rdd, lambda part: [x * x for x in part])
        [0, 1, 4, 9, 16, 25]
        >>> sc.runJob(rdd, lambda part: [x * x for x in part], [0, 2], True)
        [0, 1, 16, 25]
        """
        results = self._run_job(rdd, lambda _, it: list(partitionFunc(it)), partitions)
        return [x for part in results for x in part]

    def _run_job(self, rdd: RDD[T], func: Callable[[int, Iterator[T]], R],
                 partitions: list[int] | None = None) -> list[R]:
        self._check_running()
        results = self._scheduler.run_job(rdd, func, partitions)
        if self._pending_checkpoints:
            self._write_checkpoints(rdd)
        return results

    def _write_checkpoints(self, rdd: RDD[Any]) -> None:
        """Checkpoint the RDDs in ``rdd``'s lineage that asked for it. Writing one runs a job
        on it, which must not start writing the same checkpoint again."""
        for marked in checkpoint_requested_in(rdd):
            if marked.id in self._checkpointing:
                continue
            self._checkpointing.add(marked.id)
            try:
                materialize_checkpoint(marked)
                self._pending_checkpoints -= 1
            finally:
                self._checkpointing.discard(marked.id)

    def _new_rdd_id(self) -> int:
        with self._rdd_id_lock:
            return next(self._rdd_ids)

    def __repr__(self) -> str:
        return f"<Context master={self.master} appName={self.appName}>"


def _slice_list(items: list[T], n: int) -> list[list[T]]:
    batch = max(1, min(len(items) // n, 1024))
    chunks = [items[i:i + batch] for i in range(0, len(items), batch)]
    m = len(chunks)
    return [[x for chunk in chunks[i * m // n:(i + 1) * m // n] for x in chunk] for i in range(n)]


def _slice_range(r: range, n: int) -> list[range]:
    size = len(r)
    if size == 0:
        return [range(0) for _ in range(n)]
    step = r.step
    starts = [r.start + int(i * size / n) * step for i in range(n + 1)]
    return [range(starts[i], starts[i + 1], step) for i in range(n)]
