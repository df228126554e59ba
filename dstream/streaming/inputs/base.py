"""The base of every input stream: a stream with no parent, computed each batch by the driver.

Queues (``queue.py``), files (``files.py``), receivers (``receiver_streams.py``) and the direct
Kafka stream (``kafka_direct.py``) build on it; ``constructors.py`` holds the
``StreamingContext`` methods that make them.

>>> from dstream import Context, StreamingContext
>>> with Context("local[1]") as ctx:
...     ssc = StreamingContext(ctx, 1, clock="manual")
...     isinstance(ssc.queueStream([[1]]), InputDStream)
True
"""

from __future__ import annotations

from typing import TypeVar

from ..dstream import DStream, StreamingContextLike

__all__ = ["InputDStream"]

T = TypeVar("T")


class InputDStream(DStream[T]):
    """A stream with no parent; its slide is the batch duration."""

    def __init__(self, ssc: StreamingContextLike, op: str) -> None:
        super().__init__(ssc, [], op, ssc._batch_ms)
        self.stream_id = ssc._graph.input_index(self)

    def start(self) -> None:
        """Called once when the streaming context starts."""

    def stop(self) -> None:
        """Called once when the streaming context stops."""
