"""``StreamNode``: what code walking the DStream graph reads of a stream.

The helpers that walk the graph (which stream's function failed, which streams keep state and
under what key, which RDDs later batches read again, which Kafka offsets a batch consumed) sit
below ``DStream`` and type their streams with this protocol; every ``DStream`` satisfies it.

>>> from dstream import Context, StreamingContext
>>> def ops(stream: StreamNode) -> list[str]:
...     return [stream.op] + [op for parent in stream.parents for op in ops(parent)]
>>> with Context("local") as ctx:
...     ops(StreamingContext(ctx, 1).queueStream([]).map(str))
['map', 'queueStream']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from types import CodeType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..rdd import RDD

__all__ = ["StreamNode"]


class StreamNode(Protocol):
    """A stream as the graph's walkers see it: its id, operator and parents, what it keeps."""

    @property
    def id(self) -> str: ...
    @property
    def op(self) -> str: ...
    @property
    def call_site(self) -> str: ...
    @property
    def parents(self) -> Sequence[StreamNode]: ...
    @property
    def user_codes(self) -> tuple[CodeType, ...]: ...
    @property
    def _user_named(self) -> bool: ...
    @property
    def must_checkpoint(self) -> bool: ...
    @property
    def checkpoint_ms(self) -> int | None: ...
    @property
    def remember_ms(self) -> int | None: ...
    @property
    def generated(self) -> Mapping[int, RDD[Any]]: ...
    @property
    def _lock(self) -> AbstractContextManager[Any]: ...

    def _parent_remember_ms(self) -> int | None: ...
    def _is_time_valid(self, time_ms: int) -> bool: ...
