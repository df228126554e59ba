"""A worker SIGKILLed mid-stream on ``dask-local[3]``: a windowed count over a steady socket
stream stays exact and batches keep completing.

A sender thread paces known, distinct lines to the socket receiver; received blocks go to the
workers with two replicas each. Once a third of the lines arrived, the worker that holds the
newest block's first replica is killed (its blocks are read from their other replica, lost
map outputs are made again). The batches are stepped with the manual clock; the test awaits
conditions (records received, batches completed), never a fixed delay.
"""

from __future__ import annotations

import operator
import os
import signal
import threading
import time
from collections import Counter
from typing import Any

import pytest

from dstream import Conf, Context, StorageLevel, StreamingContext
from dstream.executors.dask_blocks import DaskBlock
from dstream.streaming.testing import advance_batch, collect_batches
from tests.streaming.test_receiver_streams import LineServer, line_server  # noqa: F401 - fixture

LINES = 6000
KEYS = 7
RATE = 2000          # lines per second


def send_steadily(server: LineServer, stop: threading.Event) -> None:
    """``LINES`` lines ``k<i mod KEYS> <i>``, 20 every 10 ms (the pace of a steady source)."""
    conn = server.connection(1)
    step = RATE // 100
    for start in range(0, LINES, step):
        if stop.is_set():
            return
        conn.sendall("".join(f"k{i % KEYS} {i}\n" for i in range(start, start + step)).encode())
        time.sleep(0.01)


def newest_block_holder(ctx: Context) -> int:
    """The pid of the worker that holds the first replica of the newest received block."""
    handles = [ctx._block_manager.get_for_task(b) for b in ctx._block_manager.block_ids()]
    newest = [h for h in handles if isinstance(h, DaskBlock)][-1]
    worker = newest.replicas[0][1]
    return ctx._backend._client.run(os.getpid, workers=[worker])[worker]


@pytest.mark.parametrize("level, wal", [
    (StorageLevel.MEMORY_AND_DISK_2, False),      # the default: the other replica is read
    (StorageLevel.MEMORY_ONLY, True),             # one replica: read back from the log
], ids=["two-replicas", "one-replica-and-the-log"])
def test_windowed_count_is_exact_when_a_worker_is_killed_mid_stream(
        line_server: LineServer, tmp_path: Any, caplog: pytest.LogCaptureFixture,  # noqa: F811
        level: StorageLevel, wal: bool) -> None:
    conf = Conf().set("dstream.streaming.receiver.writeAheadLog.enable", str(wal).lower())
    with Context("dask-local[3]", "stream-faults", conf=conf) as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.checkpoint(os.fspath(tmp_path / "checkpoints"))
        lines = ssc.socketTextStream("127.0.0.1", line_server.port, level)
        per_batch = collect_batches(lines.map(lambda line: (line, 1)).reduceByKey(operator.add, 3))
        windows = collect_batches(lines.map(lambda line: (line.split()[0], 1))
                                  .reduceByKeyAndWindow(operator.add, operator.sub, 3, 1, 3))
        tracker = ssc._receiver_tracker.tracker
        stop = threading.Event()
        sender = threading.Thread(target=send_steadily, args=(line_server, stop), daemon=True)
        ssc.start()
        sender.start()
        try:
            while tracker.records_received < LINES // 3:
                advance_batch(ssc)
            os.kill(newest_block_holder(ctx), signal.SIGKILL)
            killed_at = len(per_batch)
            while tracker.records_received < LINES:
                advance_batch(ssc)
                assert len(per_batch) <= 200, "the stream did not finish"
            for _ in range(3):                       # the last lines slide through the window
                advance_batch(ssc)
            ssc.awaitTerminationOrTimeout(0)         # re-raises a failed batch's error
        finally:
            stop.set()
            ssc.stop(stopSparkContext=False)
            sender.join(timeout=30)
    counted = Counter()
    for batch in per_batch:
        counted.update(dict(batch))
    assert len(counted) == LINES and set(counted.values()) == {1}   # each line once, none lost
    assert len(per_batch) >= killed_at + 4                           # batches went on after it
    assert len(windows) == len(per_batch)
    for t, window in enumerate(windows):
        expected = Counter(line.split()[0] for batch in per_batch[max(0, t - 2):t + 1]
                           for line, _ in batch)
        assert {k: n for k, n in window if n} == dict(expected), f"window of batch {t}"
    recovered = [r for r in caplog.records if "from the write-ahead log" in r.getMessage()]
    assert bool(recovered) == wal
