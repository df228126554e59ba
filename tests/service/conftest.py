"""A real StreamingContext on a manual clock, running the queueStream word-count job plus a
receiver stream the test feeds, with the monitoring app over it.

queueStream reports no input records (as in Spark), so the record counts come from the
receiver stream: ``PushReceiver.push`` stores a reliable block and returns once the engine
holds it, so the next batch is known to carry exactly those records.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dstream import Context, ManualClock, StreamingContext, StreamingListener
from dstream.streaming.testing import advance_batch
from dstream.receivers import Receiver
from dstream.service.api import create_app
from dstream.service.jobs import load_job
from dstream.service.context_view import ContextView

ROOT = Path(__file__).resolve().parents[2]
QUEUE_JOB = ROOT / "jobs" / "wordcount_queue.py"
#: the console script of the venv running the tests, and the daemon's drain phases in order
DSTREAM = Path(sys.executable).parent / "dstream"
PHASES = ["stop the receivers (what they buffered becomes a last block)",
          "process the data already received",
          "commit source offsets and write the last checkpoint",
          "deliver the last listener events", "mark the context stopped",
          "stop the executors", "stop HTTP"]
#: the manual clock starts here (2023-11-14T22:13:20Z), so batch times look like real ones
START_MS = 1_700_000_000_000


class PushReceiver(Receiver):
    """A receiver the test drives: ``push(records)`` is a reliable store of one block."""

    def onStart(self) -> None:
        pass

    def onStop(self) -> None:
        pass

    def push(self, records: list[Any]) -> None:
        self.store(list(records))


class BatchEvents(StreamingListener):
    """Lets a test wait for a batch event (submitted, started) instead of sleeping."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.seen: set[tuple[str, int]] = set()

    def _note(self, kind: str, event: Any) -> None:
        with self._cond:
            self.seen.add((kind, event.batchInfo().batch_time_ms))
            self._cond.notify_all()

    def onBatchSubmitted(self, batchSubmitted: Any) -> None:
        self._note("submitted", batchSubmitted)

    def onBatchStarted(self, batchStarted: Any) -> None:
        self._note("started", batchStarted)

    def wait(self, kind: str, time_ms: int, timeout: float = 30.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: (kind, time_ms) in self.seen, timeout):
                raise TimeoutError(f"batch {time_ms} was not {kind} within {timeout} s")


@dataclass
class Running:
    ssc: StreamingContext
    view: ContextView
    app: FastAPI
    receiver: PushReceiver
    receiver_stream_id: int
    events: BatchEvents
    clock: ManualClock
    #: records pushed, per completed batch
    fed: list[int] = field(default_factory=list)

    def batch(self, records: list[Any] | tuple[Any, ...] = ()) -> int:
        """Feed ``records`` (through the receiver), run one batch, wait for its events."""
        if records:
            self.receiver.push(list(records))
        time_ms = advance_batch(self.ssc)
        self.view.wait_for_events()
        self.fed.append(len(records))
        return time_ms

    def client(self, **kwargs: Any) -> TestClient:
        return TestClient(self.app, **kwargs)


@contextlib.contextmanager
def running_job(tmp_path: Path, *, token: str | None = None, ready_max_lag_batches: float = 10.0,
                refresh_ms: int = 1000,
                extra: Callable[[StreamingContext], None] | None = None) -> Iterator[Running]:
    job = load_job(QUEUE_JOB)
    with Context("local", "service-test") as ctx:
        clock = ManualClock(START_MS)
        ssc = StreamingContext(ctx, 1, clock=clock)
        ssc.checkpoint(str(tmp_path / "checkpoints"))
        job.build(ssc, job.parse_args(["--batches", "5"]))
        receiver = PushReceiver()
        pushed = ssc.receiverStream(receiver)
        pushed.map(len).foreachRDD(lambda rdd: None)
        if extra is not None:
            extra(ssc)
        events = BatchEvents()
        ssc.addStreamingListener(events)
        view = ContextView(ssc)
        app = create_app(view, token, ready_max_lag_batches=ready_max_lag_batches,
                         refresh_ms=refresh_ms)
        ssc.start()
        try:
            yield Running(ssc, view, app, receiver, pushed.stream_id, events, clock)
        finally:
            ssc.stop(stopSparkContext=False)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    with running_job(tmp_path) as r:
        yield r
