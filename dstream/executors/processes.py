"""``local[N]``: N worker processes on this machine, fed over pipes.

Each worker has a driver-side thread that takes the next queued task, sends it, and waits
for the reply. A worker that dies fails only its running task (``WorkerLostError``, which the
scheduler retries) and is replaced at once.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import OrderedDict
from concurrent.futures import Future
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from .. import allocator
from ..errors import WorkerLostError
from ..serialization import dumps_code, dumps_data
from .base import ExecutorBackend, RemoteTaskError

if TYPE_CHECKING:
    from ..conf import Conf
    from ..scheduler.task import StageBinary, TaskResult

__all__ = ["ProcessBackend"]

log = logging.getLogger(__name__)
_STAGE_BYTES_CACHE = 64
# ``python -m`` would put the working directory first on the worker's import path, where a
# folder named like a package (say ``checkpoint/``) shadows it; start from the driver's path only
# dstream.executors.worker reports its own start-up failures; this reports one that happens
# while importing it (dstream or a dependency cannot be imported), framed as Connection frames
_WORKER_BOOT = """\
import sys
sys.path.pop(0)
try:
    import runpy
    runpy.run_module('dstream.executors.worker', run_name='__main__')
except Exception as e:
    import os, pickle, struct, traceback
    try:
        exc = pickle.dumps(e)
        pickle.loads(exc)
    except Exception:
        exc = None
    data = pickle.dumps(('failed', exc, type(e).__qualname__, str(e), traceback.format_exc()))
    data = struct.pack('!i', len(data)) + data
    try:
        while data:
            data = data[os.write(int(sys.argv[2]), data):]
    except OSError:
        pass        # the driver stopped meanwhile
    sys.exit(3)
"""


#: a queued task: (future, stage, split, attempt, inputs)
_Queued = tuple[Future["TaskResult"], "StageBinary", int, int, dict[Any, Any]]


class _Worker:
    """One worker process and the pipes to it."""

    def __init__(self, index: int, env: dict[str, str]) -> None:
        self.index = index
        child_read, parent_write = os.pipe()
        parent_read, child_write = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WORKER_BOOT, str(child_read), str(child_write)],
            pass_fds=(child_read, child_write), env=env, stdin=subprocess.DEVNULL)
        os.close(child_read)
        os.close(child_write)
        self.to_worker = Connection(parent_write, readable=False)
        self.from_worker = Connection(parent_read, writable=False)
        self.known_stages: set[int] = set()
        #: stages the worker holds that will not run again: dropped with its next task
        self.forgotten: collections.deque[int] = collections.deque()
        self.ready = False

    def wait_ready(self) -> None:
        """Wait for the worker's first message; WorkerStartError when it could not start."""
        if not self.ready:
            status, *rest = pickle.loads(self.from_worker.recv_bytes())
            if status == "failed":
                error = _rebuild_error(*rest)
                note = (f"dstream: worker process {self.process.pid} failed to start (importing "
                        "dstream or what a task needs); its traceback is the executor traceback")
                if hasattr(error, "add_note"):
                    error.add_note(note)
                raise WorkerStartError(error)
            self.ready = status == "ready"

    def close(self, kill: bool = False) -> None:
        for conn in (self.to_worker, self.from_worker):
            try:
                conn.close()
            except OSError:
                pass
        if kill and self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ProcessBackend(ExecutorBackend):
    """Tasks run in ``n`` worker processes; code ships with cloudpickle, data with pickle 5."""

    serializes = True

    def __init__(self, n: int, conf: Conf) -> None:
        self.parallelism = n
        self._env = _worker_environment(conf.getBoolean(allocator.SETTING, True))
        #: (priority, order, task) where task is (future, stage, split, attempt, inputs), or
        #: None: stop. Priority 0: the tasks of running jobs; 1: background ones (map tasks
        #: run ahead), which wait behind them; 2: stop, after every queued task
        self._queue: queue.PriorityQueue[tuple[int, int, _Queued | None]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._stage_bytes: OrderedDict[int, bytes] = OrderedDict()
        self._stage_lock = threading.Lock()
        self._stopping = False
        self._stop_lock = threading.Lock()
        self._workers: list[_Worker] = [_Worker(i, self._env) for i in range(n)]
        self._threads = [threading.Thread(target=self._serve, args=(i,), daemon=True,
                                          name=f"dstream-worker-{i}") for i in range(n)]
        for t in self._threads:
            t.start()

    # ------------------------------------------------------------------ interface
    def submit(self, stage: StageBinary, split: int, attempt: int,
               inputs: dict[Any, Any], background: bool = False) -> Future[TaskResult]:
        future: Future[TaskResult] = Future()
        with self._stop_lock:
            if self._stopping:
                future.set_exception(RuntimeError("the executor backend is stopped"))
                return future
            self._queue.put((1 if background else 0, next(self._order),
                             (future, stage, split, attempt, inputs)))
        return future

    def forget_stage(self, stage_id: int) -> None:
        with self._stage_lock:
            self._stage_bytes.pop(stage_id, None)
        for worker in list(self._workers):       # else the set grows by every stage, for good
            if stage_id in worker.known_stages:
                worker.known_stages.discard(stage_id)
                worker.forgotten.append(stage_id)

    def worker_pids(self) -> list[int]:
        return [w.process.pid for w in self._workers]

    def stop(self) -> None:
        with self._stop_lock:
            if self._stopping:
                return
            self._stopping = True
            for _ in self._threads:
                self._queue.put((2, next(self._order), None))
        for t in self._threads:
            t.join(timeout=10)
        for w in self._workers:
            w.close()

    # ------------------------------------------------------------------ worker threads
    def _code_of(self, stage: StageBinary) -> bytes:
        with self._stage_lock:
            code = self._stage_bytes.get(stage.stage_id)
            if code is None:
                code = self._stage_bytes[stage.stage_id] = dumps_code(stage)
                if len(self._stage_bytes) > _STAGE_BYTES_CACHE:
                    self._stage_bytes.popitem(last=False)
            return code

    def _serve(self, index: int) -> None:
        while True:
            _, _, item = self._queue.get()
            if item is None:
                return
            future, stage, split, attempt, inputs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                self._run_on(index, future, stage, split, attempt, inputs)
            except BaseException as e:  # noqa: B902 - never let a worker thread die silently
                if not future.done():
                    future.set_exception(e)

    def _run_on(self, index: int, future: Future[TaskResult], stage: StageBinary, split: int,
                attempt: int, inputs: dict[Any, Any]) -> None:
        worker = self._workers[index]
        try:
            code = None if stage.stage_id in worker.known_stages else self._code_of(stage)
            data = dumps_data(inputs)
            forget = [worker.forgotten.popleft() for _ in range(len(worker.forgotten))]
            message = pickle.dumps((stage.stage_id, code, split, attempt, data, forget), protocol=5)
        except Exception as e:
            future.set_exception(e)
            return
        try:
            worker.wait_ready()
        except WorkerStartError as failed:
            self._replace(index, f"it failed to start: {failed.error!r}")
            future.set_exception(failed.error)
            return
        except (EOFError, OSError):
            pass    # died before it said ready: reported as lost below, when the send fails
        try:
            worker.to_worker.send_bytes(message)
            worker.known_stages.add(stage.stage_id)
            reply = worker.from_worker.recv_bytes()
        except (EOFError, OSError) as e:
            exit_code = worker.process.poll()
            self._replace(index)
            if self._stopping:
                future.set_exception(RuntimeError("the executor backend stopped while a task ran"))
            else:
                future.set_exception(WorkerLostError(
                    f"worker process {worker.process.pid} died (exit code {exit_code}) while running "
                    f"task {split} of stage {stage.stage_id} ({stage.description}): {e!r}"))
            return
        status, *rest = pickle.loads(reply)
        if status == "ok":
            future.set_result(pickle.loads(rest[0]))
        else:
            # the stage's code may be what failed to load (a missing module, a destroyed
            # broadcast): send it again with a retry rather than assume the worker holds it
            worker.known_stages.discard(stage.stage_id)
            future.set_exception(_rebuild_error(*rest))

    def _replace(self, index: int, why: str = "it was lost") -> None:
        old = self._workers[index]
        old.close(kill=True)
        if not self._stopping:
            log.warning("replacing worker process %s: %s", old.process.pid, why)
            self._workers[index] = _Worker(index, self._env)


class WorkerStartError(Exception):
    """A worker process reported that it could not start; ``error`` is what it raised."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _rebuild_error(exc_bytes: bytes | None, type_name: str, message: str, text: str) -> BaseException:
    error: BaseException
    if exc_bytes is not None:
        error = pickle.loads(exc_bytes)
    else:
        error = RemoteTaskError(type_name, message)
    error.__dict__["_dstream_traceback"] = text
    return error


def _worker_environment(tune_malloc: bool) -> dict[str, str]:
    env = allocator.worker_environment(os.environ) if tune_malloc else dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    # the driver's own import path, no more: an extra entry (e.g. the working directory, which
    # may hold a folder named like a package) could shadow what the driver imported
    paths = [os.path.abspath(p) if p else os.getcwd() for p in sys.path]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env
