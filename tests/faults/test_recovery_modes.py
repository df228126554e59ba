"""The two recovery modes, on Spark's recoverable example (a setup function that deletes the
output file) killed with SIGKILL and started again:

- ``rebuild`` (the default) calls the setup function again and says so once in the log; an
  unguarded side effect runs again (the earlier output is gone), the porting guide's guard
  with ``StreamingContext.isRecovering()`` keeps it;
- ``restore`` (PySpark's behaviour) restores the saved graph and never calls the setup
  function, so the earlier output stays; a saved graph that is not signed with the
  checkpoint's key is refused before anything is unpickled.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import pytest

from dstream import Context, StreamingContext
from dstream.checkpoint import CorruptCheckpointError
from dstream.checkpoint.disk import DiskStore
from dstream.checkpoint.signing import Signer
from dstream.streaming.graph_restore import GRAPH_NAME, GraphRestoreError, load_graph, save_graph
from tests.faults.test_spark_keys_in_a_process import N, Job

REBUILD_LINE = "calling the setup function again to rebuild the graph"
RESTORE_LINE = "restoring the saved graph without calling the setup function"


class RecoverableJob(Job):
    def __init__(self, tmp_path: Any, guard: str) -> None:
        super().__init__(tmp_path)
        self.output = os.fspath(tmp_path / "counts.txt")
        self.setup_log = os.fspath(tmp_path / "setup.log")
        self.guard = guard

    def command(self, *conf: str) -> list[str]:
        return [sys.executable, "-m", "tests.faults.recoverable_job", self.source, self.ack,
                self.checkpoint, self.output, self.setup_log, self.guard, *conf]

    def per_batch(self) -> dict[str, int]:
        """Batch time -> records counted, from the output file (a re-run batch's line wins)."""
        if not os.path.exists(self.output):
            return {}
        per_batch: dict[str, int] = {}
        with open(self.output, encoding="utf-8") as f:
            for line in f:
                time_ms, count = line.split()
                per_batch[time_ms] = int(count)
        return per_batch

    def counted(self) -> int:
        return sum(self.per_batch().values())

    def setup_calls(self) -> list[str]:
        with open(self.setup_log, encoding="utf-8") as f:
            return f.read().splitlines()


@pytest.mark.slow
@pytest.mark.parametrize("mode, guard, setup_calls, keeps_output", [
    ("rebuild", "unguarded", ["recovering=False", "recovering=True"], False),
    ("rebuild", "guarded", ["recovering=False", "recovering=True"], True),
    ("restore", "unguarded", ["recovering=False"], True),
])
def test_a_sigkilled_job_recovers_in_each_mode(mode: str, guard: str, setup_calls: list[str],
                                               keeps_output: bool, tmp_path: Any) -> None:
    job = RecoverableJob(tmp_path, guard)
    conf = f"dstream.streaming.recovery.mode={mode}"
    job.start(conf)
    job.wait_for(lambda: job.counted() >= 1500, "3 s of counted batches (log segments rolled)")
    assert job.acked() < N, "the source ran out before the kill: slow the source down"
    killed_at, earlier_batches = job.acked(), set(job.per_batch())
    job.stop(signal.SIGKILL)
    job.start(conf)
    job.wait_for(lambda: job.acked() >= killed_at + 500, "more of the source after the restart")
    assert job.stop(signal.SIGTERM) == 0, job.log()
    acked = job.acked()
    assert [line.split(", ")[1] for line in job.setup_calls()] == setup_calls
    log = job.log(tail=10**7)
    assert log.count(REBUILD_LINE) == (mode == "rebuild") and log.count(RESTORE_LINE) == (mode == "restore"), log
    if keeps_output:          # the earlier run's counts are still there, nothing acknowledged lost
        assert earlier_batches <= set(job.per_batch()), log[-4000:]
        assert job.counted() >= acked, (job.counted(), acked, log[-4000:])
    else:                     # the setup function deleted the earlier run's counts
        # (a batch the restart runs again may write its line anew, the first ones are gone)
        assert not earlier_batches <= set(job.per_batch()) and job.counted() < acked


def test_a_saved_graph_signed_with_another_key_is_refused_before_unpickling(tmp_path: Any) -> None:
    store = DiskStore(os.fspath(tmp_path / "store"))
    with Context("local", "sign") as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.socketTextStream("127.0.0.1", 9).map(str.upper).pprint()
        save_graph(ssc, store, Signer(b"the job's own key"), os.fspath(tmp_path / "store"))
    data = store.load(GRAPH_NAME)
    store.save(GRAPH_NAME, data[:-1] + bytes([data[-1] ^ 1]))      # one bit flipped
    with pytest.raises(CorruptCheckpointError, match="signature mismatch"):
        load_graph(store, Signer(b"the job's own key"), StreamingContext)
    store.save(GRAPH_NAME, data)
    with pytest.raises(CorruptCheckpointError, match="signature mismatch"):
        load_graph(store, Signer(b"somebody else's key"), StreamingContext)
    assert Context._active_context() is None       # nothing was started for a refused graph
    store.close()


def test_restore_mode_refuses_a_queue_stream_clearly(tmp_path: Any) -> None:
    with Context("local", "queue") as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.queueStream([[1]]).pprint()
        with pytest.raises(GraphRestoreError, match="queueStream-0: a queueStream's RDDs live"):
            save_graph(ssc, DiskStore(os.fspath(tmp_path)), Signer(b"12345678"), os.fspath(tmp_path))
