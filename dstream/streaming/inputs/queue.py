"""The queue stream: each batch takes the next queued RDD (``StreamingContext.queueStream``).

>>> from dstream import Context, StreamingContext
>>> from dstream.streaming.testing import run_batches
>>> with Context("local[1]") as ctx:
...     ssc = StreamingContext(ctx, 1, clock="manual")
...     run_batches(ssc, ssc.queueStream([[1], [2, 3]], oneAtATime=False), 2)
[[1, 2, 3], []]
"""

from __future__ import annotations

import collections
import threading
from typing import TypeVar

from ...rdd import RDD
from ..dstream import StreamingContextLike
from .base import InputDStream

__all__ = ["QueueInputDStream"]

T = TypeVar("T")


class QueueInputDStream(InputDStream[T]):
    """Each batch takes the next queued RDD (or all of them); when none is left, the default
    RDD or else ``emptyRDD()`` (no partitions), as Spark's queue stream does."""

    def __init__(self, ssc: StreamingContextLike, rdds: list[RDD[T]], one_at_a_time: bool,
                 default: RDD[T] | None) -> None:
        super().__init__(ssc, "queueStream")
        self.queue: collections.deque[RDD[T]] = collections.deque(rdds)
        self.one_at_a_time = one_at_a_time
        self.default = default
        self._queue_lock = threading.Lock()

    def _compute(self, time_ms: int) -> RDD[T] | None:
        with self._queue_lock:
            if self.one_at_a_time and self.queue:
                taken = [self.queue.popleft()]
            else:
                taken = list(self.queue)
                self.queue.clear()
        if taken:
            return taken[0] if self.one_at_a_time else self._sc.union(taken)
        if self.default is not None:
            return self.default
        return self._sc.emptyRDD()      # Spark's queue stream: an RDD without partitions
