"""Checkpoint figures in the REST API and /metrics, /readyz when checkpoints stop, and the
recovery a context started with.

The store is broken for real: the checkpoint directory's ``metadata`` folder is replaced by a
file, so every metadata write fails until it is put back. The manual clock measures the age.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from dstream import Conf, Context, StreamingContext, StreamingListener
from dstream.service.api import create_app
from dstream.service.context_view import ContextView
from tests.streaming.test_log_replay import Job, crash

from .conftest import START_MS, running_job
from .test_api import metrics


class CheckpointEvents(StreamingListener):
    def __init__(self) -> None:
        self.failed = threading.Event()
        self.written: list[int] = []
        self._cond = threading.Condition()

    def onCheckpointError(self, event: Any) -> None:
        self.failed.set()

    def onCheckpointWritten(self, event: Any) -> None:
        with self._cond:
            if event.metadata:
                self.written.append(event.time_ms)
            self._cond.notify_all()

    def wait_written(self, time_ms: int, timeout: float = 30) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: time_ms in self.written, timeout)


def short_bounds(events: CheckpointEvents):
    def extra(ssc: StreamingContext) -> None:
        conf = ssc.sparkContext._conf
        conf.set("dstream.streaming.checkpoint.maxAge", "3s")
        conf.set("dstream.streaming.checkpoint.maxRetryDelay", "0.2s")
        ssc.addStreamingListener(events)
    return extra


def test_checkpoint_figures_in_the_api_and_metrics(tmp_path: Path) -> None:
    events = CheckpointEvents()
    with running_job(tmp_path, extra=short_bounds(events)) as r, r.client() as client:
        last = [r.batch(["x"]) for _ in range(3)][-1]
        assert events.wait_written(last)
        status = client.get("/api/v1/streaming/checkpoint").json()
        # None fields are left out, as in Spark's API
        assert status["enabled"] and status["healthy"] and "recovery" not in status
        assert status["written"] >= 1 and status["lastBatchTime"] == last
        assert (status["failures"], status["consecutiveFailures"]) == (0, 0) and "lastError" not in status
        assert status["ageSeconds"] == 0.0 and status["maxAgeSeconds"] == 3.0
        assert status["location"] == str(tmp_path / "checkpoints")
        m = metrics(client)
        assert m["dstream_checkpoints_written_total"] == status["written"]
        assert m["dstream_checkpoint_failures_total"] == 0
        assert m["dstream_checkpoint_age_seconds"] == 0.0
        assert m["dstream_checkpoint_max_age_seconds"] == 3.0
        assert m["dstream_checkpoint_last_batch_time_seconds"] == last / 1000


def test_readyz_turns_not_ready_while_checkpoints_fail_and_ready_once_they_recover(
        tmp_path: Path) -> None:
    events = CheckpointEvents()
    with running_job(tmp_path, extra=short_bounds(events)) as r, r.client() as client:
        first = r.batch(["x"])
        assert events.wait_written(first)
        metadata = tmp_path / "checkpoints" / "metadata"
        shutil.move(metadata, tmp_path / "metadata-away")
        metadata.write_text("not a directory")            # every metadata write fails now
        for _ in range(4):
            r.batch(["y"])
        assert events.failed.wait(30)
        readyz = client.get("/readyz")
        assert readyz.status_code == 503, readyz.json()
        body = readyz.json()
        assert body["reason"].startswith("checkpoints stopped: the last one was written 4 s ago (bound 3 s)")
        assert "attempts failed in a row" in body["reason"] and body["checkpointAgeS"] == 4.0
        status = client.get("/api/v1/streaming/checkpoint").json()
        assert not status["healthy"] and status["consecutiveFailures"] >= 1
        assert status["lastError"] and status["lastBatchTime"] == first
        m = metrics(client)
        assert m["dstream_checkpoint_consecutive_failures"] >= 1
        assert m["dstream_checkpoint_failures_total"] >= 1 and m["dstream_checkpoint_age_seconds"] == 4.0

        os.remove(metadata)                                # the store is repaired
        shutil.move(tmp_path / "metadata-away", metadata)
        assert events.wait_written(START_MS + 5000)        # the writer's retry catches up
        r.view.wait_for_events()
        assert client.get("/readyz").status_code == 200
        status = client.get("/api/v1/streaming/checkpoint").json()
        assert status["healthy"] and status["consecutiveFailures"] == 0 and "lastError" not in status


def test_the_recovery_a_context_started_with_is_in_the_api_and_metrics(tmp_path: Path) -> None:
    conf = (Conf().setMaster("local").setAppName("recovery-api")
            .set("dstream.streaming.receiver.writeAheadLog.enable", "true")
            .set("dstream.checkpoint.key", "recovery-api-test-key"))
    job = Job(str(tmp_path / "ckpt"), conf)
    with Context.getOrCreate(conf):
        ssc = job.start(0)
        for _ in range(3):
            job.batch(ssc, [1])
        before = ssc._receiver_tracker.tracker.records_received
        job.receiver.emit([5])                           # logged, never allocated: new at recovery
        assert ssc._receiver_tracker.tracker.wait_for_records(before + 1, 30)
        crash(ssc)
        ssc = job.start(3000)
        try:
            with TestClient(create_app(ContextView(ssc))) as client:
                status = client.get("/api/v1/streaming/checkpoint").json()
                assert status["recovery"] == {"checkpointBatchTime": 3000, "stateRestored": True,
                                              "replayedBlocks": {"batch": 3, "settled": 0, "new": 1,
                                                                 "duplicate": 0}}
                m = metrics(client)
                assert m["dstream_recovery_logged_blocks{fate=new}"] == 1
                assert m["dstream_recovery_logged_blocks{fate=batch}"] == 3
        finally:
            ssc.stop(stopSparkContext=False)
