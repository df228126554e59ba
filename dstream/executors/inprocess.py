"""``local`` / ``local[1]``: tasks run in the calling thread, with no pickling at all."""

from __future__ import annotations

import traceback
from concurrent.futures import Future
from typing import Any

from ..scheduler.task import StageBinary, TaskResult, run_task
from .base import ExecutorBackend

__all__ = ["InProcessBackend"]


class InProcessBackend(ExecutorBackend):
    """Runs each task to completion inside ``submit``."""

    parallelism = 1
    serializes = False

    def submit(self, stage: StageBinary, split: int, attempt: int,
               inputs: dict[Any, Any], background: bool = False) -> Future[TaskResult]:
        future: Future[TaskResult] = Future()
        try:
            future.set_result(run_task(stage, split, attempt, inputs, serialize=False))
        except BaseException as e:  # noqa: B902 - handed to the scheduler, which re-raises
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            e.__dict__.setdefault("_dstream_traceback", traceback.format_exc())
            future.set_exception(e)
        return future

    def stop(self) -> None:
        pass
