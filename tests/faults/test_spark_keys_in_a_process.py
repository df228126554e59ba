"""The Spark keys whose effect is on a whole process, set under their Spark names on a job run
as its own process: ``spark.streaming.receiver.writeAheadLog.enable`` (a SIGKILLed job loses
nothing its reliable receiver acknowledged; without it, what it acknowledged since the last
state checkpoint is gone) and ``spark.streaming.stopGracefullyOnShutdown`` (SIGTERM drains what was
received and exits 0; without it SIGTERM ends the process at once).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.faults.reliable_source_job import CHUNK

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
N = 5000     # read at 500 records/s: ten seconds of source, room for a loaded machine
#: the Spark keys this file proves (tests/streaming/test_spark_keys.py proves the others)
KEYS = ("spark.streaming.receiver.writeAheadLog.enable", "spark.streaming.stopGracefullyOnShutdown")


class Job:
    """The reliable-source job's files, and its process."""

    def __init__(self, tmp_path: Any) -> None:
        self.source = os.fspath(tmp_path / "source.txt")
        self.ack = os.fspath(tmp_path / "ack")
        self.checkpoint = os.fspath(tmp_path / "checkpoint")
        self.out = os.fspath(tmp_path / "out")
        self.log_path = os.fspath(tmp_path / "job.log")
        os.makedirs(self.out)
        with open(self.source, "w", encoding="utf-8") as f:
            f.write("\n".join(str(i) for i in range(N)))
        self.proc: subprocess.Popen | None = None

    def command(self, *conf: str) -> list[str]:
        return [sys.executable, "-m", "tests.faults.reliable_source_job", self.source, self.ack,
                self.checkpoint, self.out, *conf]

    def start(self, *conf: str) -> subprocess.Popen:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(*conf), cwd=REPO, stdout=log,
                                         stderr=subprocess.STDOUT)
        return self.proc

    def log(self, tail: int = 4000) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()[-tail:]

    def acked(self) -> int:
        try:
            with open(self.ack, encoding="utf-8") as f:
                return int(f.read() or 0)
        except FileNotFoundError:
            return 0

    def batches(self) -> list[str]:
        return sorted(f for f in os.listdir(self.out) if f.startswith("seen-") and f.endswith(".json"))

    def latest(self) -> dict[str, int]:
        files = self.batches()
        if not files:
            return {"count": 0, "distinct": 0}
        with open(os.path.join(self.out, files[-1]), encoding="utf-8") as f:
            return json.load(f)

    def wait_for(self, condition: Any, what: str, timeout: float = 120) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None:
                raise AssertionError(f"the job exited ({self.proc.returncode}) while waiting for "
                                     f"{what}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}:\n{self.log()}")
            time.sleep(0.02)   # polling another process's files: there is nothing to block on

    def stop(self, signum: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the job did not end after {signal.Signals(signum).name}:\n{self.log()}")


@pytest.mark.slow
@pytest.mark.parametrize("wal", ["true", "false"])
def test_spark_write_ahead_log_key_loses_nothing_across_a_sigkill(wal: str, tmp_path: Any) -> None:
    job = Job(tmp_path)
    # settings shrunk so that the run crosses the log's segment rolls and cleaning, and the
    # state's data checkpoints, before the kill
    conf = (f"spark.streaming.receiver.writeAheadLog.enable={wal}",
            "spark.streaming.receiver.writeAheadLog.rollingIntervalSecs=1",
            "spark.streaming.stopGracefullyOnShutdown=true")
    job.start(*conf)
    # kill once 3 s of batches ran and the receiver acknowledged records no batch processed
    job.wait_for(lambda: len(job.batches()) >= 6 and job.acked() > job.latest()["count"] + 20,
                 "acknowledged records ahead of the processed ones")
    assert job.acked() < N, "the source ran out before the kill: slow the source down"
    killed_at = job.acked()
    job.stop(signal.SIGKILL)
    job.start(*conf)
    job.wait_for(lambda: job.acked() >= killed_at + 500, "more of the source after the restart")
    assert job.stop(signal.SIGTERM) == 0, job.log()
    final, acked = job.latest(), job.acked()
    if wal == "true":
        # every acknowledged record is in the state (a chunk stored while stopping may be
        # processed without its acknowledgement written); none that was never read
        assert acked <= final["distinct"] <= acked + CHUNK, (final, acked, job.log())
    else:
        assert final["distinct"] < acked, "without the log, acknowledged records of unfinished " \
                                          "batches are lost: this run should have shown it"


@pytest.mark.slow
@pytest.mark.parametrize("graceful", ["true", "false"])
def test_spark_stop_gracefully_on_shutdown_key_drains_on_sigterm(graceful: str, tmp_path: Any) -> None:
    job = Job(tmp_path)
    job.start(f"spark.streaming.stopGracefullyOnShutdown={graceful}")
    job.wait_for(lambda: job.acked() >= 500, "part of the source acknowledged")
    code = job.stop(signal.SIGTERM)
    if graceful == "true":
        assert code == 0 and "stopped" in job.log(), job.log()
        final, acked = job.latest(), job.acked()      # every received record processed
        assert acked <= final["distinct"] == final["count"] <= acked + CHUNK, (final, acked)
    else:
        assert code == -signal.SIGTERM
