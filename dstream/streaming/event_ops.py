"""``withEventTime``: mixed into ``DStream`` (the event-time operators are on the stream it
returns, ``EventTimeDStream``).

>>> from dstream import Context, StreamingContext
>>> with Context("local") as ctx:
...     ssc = StreamingContext(ctx, 1)
...     events = ssc.queueStream([]).withEventTime(lambda r: r[1], 5, idleTimeout=30)
...     events.event_time
EventTimeSpec(delay_ms=5000, idle_ms=30000)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, TypeVar

if TYPE_CHECKING:
    from datetime import datetime

    from .dstream import DStream
    from .event_time import EventTimeDStream

__all__ = ["EventTimeOperations"]

T = TypeVar("T")


class EventTimeOperations:
    """Mixed into ``DStream``; mypy accepts a ``self`` type that is not a supertype of the
    class only for protocols, hence the ``# type: ignore[misc]``."""

    def withEventTime(self: DStream[T],  # type: ignore[misc]  # DStream mixin
                      timestampFunc: Callable[[T], datetime | float],
                      maxOutOfOrderness: float, idleTimeout: float | None = None
                      ) -> EventTimeDStream[T]:
        """This stream's records with the event time ``timestampFunc(record)`` gives (a
        ``datetime`` or epoch seconds). The watermark after each batch is the largest event
        time seen so far minus ``maxOutOfOrderness`` seconds; with ``idleTimeout`` seconds,
        once no record came for that long it runs on with the batch clock.

        >>> import tempfile
        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as sc:
        ...     ssc = StreamingContext(sc, 1, clock="manual")
        ...     ssc.checkpoint(tempfile.mkdtemp())
        ...     clicks = ssc.queueStream([[("a", 0.5), ("b", 1.2)], [("a", 2.5)], [("a", 4.0)]])
        ...     pairs = clicks.withEventTime(lambda r: r[1], 0).map(lambda r: (r[0], 1))
        ...     batches = run_batches(ssc, pairs.countByKeyAndEventWindow(2), 3)
        >>> for batch in batches:  # a window closes once the watermark passes its end
        ...     print(sorted((k, str(start.time()), str(end.time()), n)
        ...                  for (k, start, end), n in batch))
        []
        [('a', '00:00:00', '00:00:02', 1), ('b', '00:00:00', '00:00:02', 1)]
        [('a', '00:00:02', '00:00:04', 1)]
        """
        from .event_time import EventTimeDStream, EventTimeSpec, duration_ms
        if not callable(timestampFunc):
            raise TypeError(f"{self.id}: withEventTime needs a timestamp function, "
                            f"got {type(timestampFunc).__name__}")
        delay = duration_ms(maxOutOfOrderness, f"{self.id}: withEventTime maxOutOfOrderness")
        idle = None if idleTimeout is None else duration_ms(
            idleTimeout, f"{self.id}: withEventTime idleTimeout", allow_zero=False)
        return EventTimeDStream.stamp(self, timestampFunc, EventTimeSpec(delay, idle))
