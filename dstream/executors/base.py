"""The executor-backend interface and the choice of backend from a master URL.

>>> parse_master("local"), parse_master("local[3]"), parse_master("local[*]")[0]
(('inprocess', 1), ('processes', 3), 'processes')
>>> parse_master("dask-local[2]"), parse_master("dask://10.0.0.5:8786")
(('dask', 2), ('dask', 0))

``('dask', 0)``: the parallelism of an existing cluster is known once connected
(``backend.parallelism``).
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..block_manager import RemoteBlock
    from ..conf import Conf
    from ..scheduler.task import StageBinary, TaskResult
    from ..taskcontext import Serialized

__all__ = ["ExecutorBackend", "RemoteTaskError", "create_backend", "parse_master"]


class RemoteTaskError(Exception):
    """A task's exception that could not be sent back as itself (its type is not picklable)."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name


class ExecutorBackend(ABC):
    """Runs tasks. ``submit`` returns a future of the task's ``TaskResult``; a failed task's
    future holds the user's exception with a note carrying the executor-side traceback. The
    task may wait for ``flush`` to be sent."""

    #: how many tasks can run at once
    parallelism: int = 1
    #: True when tasks run in other processes (inputs and outputs cross as bytes)
    serializes: bool = False
    #: True when ``store_block`` keeps received blocks on the executors
    stores_blocks: bool = False

    @abstractmethod
    def submit(self, stage: StageBinary, split: int, attempt: int,
               inputs: dict[Any, Any]) -> Future[TaskResult]:
        """Queue one task; the future completes with its result or its failure."""

    def flush(self) -> None:
        """Send the tasks submitted so far: a backend may hold them to send a job's tasks
        together. The scheduler calls it before it waits for any task."""

    def pending_outputs(self, future: Future[TaskResult]) -> list[Any] | None:
        """Handles of a submitted map task's outputs (one per reduce partition) that later
        tasks may take as inputs before the task has finished, the backend running them after
        it (and failing them when it fails); ``None`` (the default): the scheduler waits for
        the task's result, whose value holds its outputs."""
        return None

    def store_block(self, block_id: str, data: Serialized, replicas: int,
                    recover: Callable[[], Serialized] | None = None) -> RemoteBlock | None:
        """Keep a received block on ``replicas`` distinct executors and return its handle, or
        ``None`` (the default): the driver's block manager keeps the block itself.
        ``recover`` gives the block's bytes again (from the write-ahead log) or raises an error
        that says what is lost; it is called when every replica is gone."""
        return None

    def outputs_lost(self, outputs: list[Any]) -> bool:
        """True when a map task's kept outputs (its buckets) cannot be read nor recomputed by
        the executors any more: the scheduler then runs that map task again."""
        return False

    def forget_stage(self, stage_id: int) -> None:
        """The stage will not run again: its code may be dropped from caches."""

    def worker_pids(self) -> list[int]:
        """Process ids of the executors (empty when tasks run in the driver)."""
        return []

    @abstractmethod
    def stop(self) -> None:
        """Stop executors and release their resources."""


_LOCAL = re.compile(r"^local(?:\[(\*|\d+)(?:\s*,\s*\d+)?\])?$")
_DASK_LOCAL = re.compile(r"^dask-local\[(\*|\d+)\]$")
_DASK = re.compile(r"^dask://([^\s/]+:\d+)/?$")


def parse_master(master: str) -> tuple[str, int]:
    """``(backend kind, parallelism)`` for a master URL."""
    m = _LOCAL.match(master.strip())
    if m:
        n = m.group(1)
        count = os.cpu_count() or 1 if n == "*" else int(n or 1)
        if count < 1:
            raise ValueError(f"master {master!r}: the number of workers must be at least 1")
        if n is None or (n != "*" and count == 1):
            return ("inprocess", 1)
        return ("processes", count)
    m = _DASK_LOCAL.match(master.strip())
    if m:
        count = os.cpu_count() or 1 if m.group(1) == "*" else int(m.group(1))
        if count < 1:
            raise ValueError(f"master {master!r}: the number of workers must be at least 1")
        return ("dask", count)
    if _DASK.match(master.strip()):
        return ("dask", 0)
    raise ValueError(f"unknown master URL {master!r}: use local, local[N], local[*], "
                     "dask://HOST:PORT or dask-local[N]")


def create_backend(master: str, conf: Conf, local_dir: str) -> ExecutorBackend:
    kind, n = parse_master(master)
    if kind == "dask":
        from .dask_backend import DaskBackend
        address = _DASK.match(master.strip())
        if address is not None:
            return DaskBackend(address="tcp://" + address.group(1), conf=conf)
        return DaskBackend(n_workers=n, conf=conf)
    if kind == "inprocess":
        from .inprocess import InProcessBackend
        return InProcessBackend()
    from .processes import ProcessBackend
    return ProcessBackend(n, conf)
