"""The executor-backend interface: what the scheduler asks of wherever tasks run."""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..block_manager import RemoteBlock
    from ..scheduler.task import StageBinary, TaskResult
    from ..taskcontext import Serialized

__all__ = ["ExecutorBackend", "RemoteTaskError"]


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
               inputs: dict[Any, Any], background: bool = False) -> Future[TaskResult]:
        """Queue one task; the future completes with its result or its failure. A
        ``background`` task (a map task run ahead) waits behind every other queued task."""

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
