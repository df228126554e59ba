"""Map tasks run ahead on Dask: the blocks live on the workers, the tasks run ahead are Dask
tasks whose bucket handles the batch's reduce tasks take, as any map task's."""

from __future__ import annotations

import operator
import os
from typing import Any

from dstream.streaming.dstream import DStream
from dstream.streaming.testing import collect_batches

from ..streaming.test_map_ahead import (BATCHES, BLOCKS, batch_words, counts_per_batch, run,
                                        word_counts)

MASTER = "dask-local[2]"


def test_every_block_after_the_first_batch_is_taken_on_dask() -> None:
    (counts,), ahead, _ = run(MASTER, counts_per_batch)
    assert [sorted(c) for c in counts] == [word_counts(batch_words(b)) for b in range(1, BATCHES + 1)]
    assert ahead == {"run": (BATCHES - 1) * BLOCKS, "taken": (BATCHES - 1) * BLOCKS, "untaken": 0}


def test_a_window_with_an_inverse_on_dask(tmp_path: Any) -> None:
    def build(stream: DStream[str]) -> list[Any]:
        return [collect_batches(stream.map(lambda w: (w, 1)).reduceByKeyAndWindow(
            operator.add, operator.sub, 4, 1, filterFunc=lambda kv: kv[1] > 0))]

    (window,), ahead, _ = run(MASTER, build, checkpoint=os.fspath(tmp_path))
    expected = [word_counts([w for b in range(max(1, last - 3), last + 1) for w in batch_words(b)])
                for last in range(1, BATCHES + 1)]
    assert [sorted(w) for w in window] == expected
    assert ahead["taken"] == (BATCHES - 1) * BLOCKS
