"""Background tasks (map tasks run ahead) wait behind the tasks of running jobs, on every
backend that queues tasks; ``local`` runs each task inside ``submit``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Iterator

from dstream import Conf, Context
from dstream.executors.processes import ProcessBackend
from dstream.scheduler.task import StageBinary


def _run_stage(stage_id: int, rdd: Any, name: str, log: str, release: str | None) -> StageBinary:
    def func(split: int, it: Iterator[Any]) -> str:
        if release is not None:              # hold the only worker until the test releases it
            deadline = time.monotonic() + 60
            while not os.path.exists(release) and time.monotonic() < deadline:
                time.sleep(0.005)
        with open(log, "a", encoding="utf-8") as f:
            f.write(name + "\n")
        return name
    return StageBinary(stage_id, "result", rdd, func, None, name)


def test_background_tasks_run_after_the_queued_foreground_ones(tmp_path: Path) -> None:
    log, release = str(tmp_path / "order"), str(tmp_path / "go")
    with Context("local", "priority") as ctx:
        rdd = ctx.parallelize([1], 1)
        inputs = {(rdd.id, 0): [1]}
        backend = ProcessBackend(1, Conf())
        try:
            futures = [backend.submit(_run_stage(0, rdd, "blocker", log, release), 0, 0, inputs)]
            for stage_id, (name, background) in enumerate(
                    (("ahead-1", True), ("job-1", False), ("ahead-2", True), ("job-2", False)), 1):
                futures.append(backend.submit(_run_stage(stage_id, rdd, name, log, None), 0, 0,
                                              inputs, background=background))
            Path(release).touch()
            results = [f.result(timeout=60).value for f in futures]
        finally:
            backend.stop()
    assert results == ["blocker", "ahead-1", "job-1", "ahead-2", "job-2"]
    assert Path(log).read_text().split() == ["blocker", "job-1", "job-2", "ahead-1", "ahead-2"]
