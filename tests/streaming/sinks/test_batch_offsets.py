"""The batch-offsets hook of receiver streams: a batch's Kafka offsets come from its blocks'
metadata, merged per partition, and only with the write-ahead log on."""

from __future__ import annotations

import os
from typing import Any

import pytest

from dstream import Conf, Context, Receiver, StreamingContext
from dstream.streaming.sinks import BatchOffsets, kafka_offsets_of_batch
from dstream.streaming.testing import advance_batch


class OffsetReceiver(Receiver):
    """Stores the blocks the test gives it, each with the Kafka offsets it covers."""

    group_id = "readers"

    def onStart(self) -> None:
        pass

    def onStop(self) -> None:
        pass

    def emit(self, records: list[str], offsets: dict[tuple[str, int], int]) -> None:
        self.store(records, {"kafka_offsets": offsets})


@pytest.mark.parametrize("wal", [True, False])
def test_a_receiver_batch_reports_the_offsets_its_blocks_reached(wal: bool, tmp_path: Any) -> None:
    conf = Conf().set("dstream.streaming.receiver.writeAheadLog.enable", str(wal).lower())
    seen: dict[int, list[BatchOffsets]] = {}
    with Context("local", "offsets", conf=conf) as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.checkpoint(os.fspath(tmp_path / "ckpt"))
        receiver = OffsetReceiver()
        stream = ssc.receiverStream(receiver).map(str.upper)
        stream.foreachRDD(lambda time, rdd: seen.update(
            {int(time.timestamp() * 1000): kafka_offsets_of_batch(stream, int(time.timestamp() * 1000))}))
        ssc.start()
        try:
            receiver.emit(["a", "b"], {("t", 0): 2})
            receiver.emit(["c"], {("t", 0): 3, ("t", 1): 1})
            assert ssc._receiver_tracker.tracker.wait_for_records(3, 30)
            first = advance_batch(ssc)
            second = advance_batch(ssc)           # no block: nothing to commit
        finally:
            ssc.stop(stopSparkContext=False)
    if wal:
        assert seen == {first: [BatchOffsets("readers", {("t", 0): 3, ("t", 1): 1})], second: []}
    else:   # without the log, the blocks die with the driver: their offsets wait for the checkpoint
        assert seen == {first: [], second: []}
