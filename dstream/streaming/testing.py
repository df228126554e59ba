"""Stepping a StreamingContext that runs on the manual clock, one batch at a time.

>>> from dstream import Context, StreamingContext
>>> with Context("local") as ctx:
...     ssc = StreamingContext(ctx, 1, clock="manual")
...     run_batches(ssc, ssc.queueStream([[1], [2]]).map(lambda x: -x), 2)
[[-1], [-2]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .clock import ManualClock

if TYPE_CHECKING:
    from .context import StreamingContext
    from .dstream import DStream

__all__ = ["advance_batch", "collect_batches", "run_batches", "wait_for_records"]


def advance_batch(ssc: StreamingContext, timeout: float = 60.0) -> int:
    """Move the manual clock to the next batch time and wait until that batch completed.
    Returns the batch time in ms; raises TimeoutError naming the batch otherwise."""
    clock = ssc._clock
    if not isinstance(clock, ManualClock):
        raise TypeError("advance_batch needs a StreamingContext made with clock='manual'")
    batch = ssc.batch_duration_ms
    target = (clock.now_ms() // batch + 1) * batch
    clock.set_time(target)
    if not ssc._scheduler.wait_for_batch(target, timeout):
        raise TimeoutError(f"the batch of {target} ms did not complete within {timeout} s")
    return target


def wait_for_records(ssc: StreamingContext, records: int, timeout: float = 60.0) -> None:
    """Wait until the context's receivers have stored ``records`` records in all (since it
    started), so that the next batch holds them; raises TimeoutError otherwise.

    Receivers run on their own threads, in real time: step the manual clock after this.

    >>> from dstream import Context, StreamingContext
    >>> from dstream.receivers import Receiver
    >>> class Three(Receiver):
    ...     def onStart(self):
    ...         self.store_all([1, 2, 3])
    ...     def onStop(self):
    ...         pass
    >>> with Context("local") as ctx:
    ...     ssc = StreamingContext(ctx, 1, clock="manual")
    ...     batches = collect_batches(ssc.receiverStream(Three()))
    ...     ssc.start()
    ...     wait_for_records(ssc, 3)
    ...     _ = advance_batch(ssc)
    ...     ssc.stop(stopSparkContext=False)
    >>> batches
    [[1, 2, 3]]
    """
    tracker = ssc._receiver_tracker.tracker
    if not tracker.wait_for_records(records, timeout):
        raise TimeoutError(f"the receivers stored {tracker.records_received} of {records} records "
                           f"within {timeout} s")


def collect_batches(stream: DStream) -> list[list[Any]]:
    """Register an output that appends each batch's collected RDD to the returned list."""
    batches: list[list[Any]] = []
    stream.foreachRDD(lambda rdd: batches.append(rdd.collect()))
    return batches


def run_batches(ssc: StreamingContext, stream: DStream, n: int, timeout: float = 60.0) -> list[list[Any]]:
    """Collect ``stream`` over ``n`` batches: start, step the clock, stop (keeping the Context).
    Re-raises the error of a failed batch (the latest, as ``awaitTermination`` does)."""
    batches = collect_batches(stream)
    ssc.start()
    try:
        for _ in range(n):
            advance_batch(ssc, timeout)
        ssc.awaitTerminationOrTimeout(0)
    finally:
        ssc.stop(stopSparkContext=False)
    return batches
