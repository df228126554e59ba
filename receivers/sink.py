"""The contract between receivers and the engine: where blocks and events go.

A receiver hands records to its :class:`~receivers.supervisor.ReceiverSupervisor`;
the supervisor cuts them into blocks and hands each finished block to a
:class:`BlockSink`, and tells an :class:`EventSink` what happens to the
receiver. The engine implements both (block manager with replicas plus the
write-ahead log; the listener bus). This package never imports the engine.

Guarantees the supervisor gives a sink:

- ``store_block`` calls for one stream never overlap, and each call's block id
  ``input-{stream_id}-{seq}`` has a larger ``seq`` than every earlier call's
  (ids increase across receiver restarts within the process). A buffered
  block whose store raised is offered again with the same id, so a sink may
  see one id more than once and should treat a repeat as the same block.
- ``records`` is a list the sink may keep: the supervisor never touches it
  again.
- ``receiver_event`` is called from receiver and supervisor threads, never
  while a supervisor lock is held.

:class:`MemorySink` keeps everything in memory: examples, tests and trying out
a custom receiver without an engine.

>>> sink = MemorySink()
>>> isinstance(sink, BlockSink) and isinstance(sink, EventSink)
True
>>> sink.store_block(0, "input-0-0", ["a", "b"], {})
>>> sink.receiver_event("started", 0, {"name": "Demo"})
>>> sink.records(), sink.event_kinds()
(['a', 'b'], ['started'])
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["EVENT_KINDS", "BlockSink", "EventSink", "MemorySink", "StoredBlock"]

EVENT_KINDS = frozenset({"started", "error", "stopped", "bad_record"})
"""The ``kind`` values :meth:`EventSink.receiver_event` receives."""


@runtime_checkable
class BlockSink(Protocol):
    """Where finished blocks go (the engine: block manager with replicas + write-ahead log)."""

    def store_block(self, stream_id: int, block_id: str, records: list[Any],
                    metadata: dict[str, Any]) -> None:
        """Store durably (engine: block manager with its replicas + write-ahead log). Returns only
        when stored; raises on failure. metadata carries e.g. {"kafka_offsets": {(topic, partition): next_offset}}."""


@runtime_checkable
class EventSink(Protocol):
    """Where receiver lifecycle events go (the engine: its listener bus)."""

    def receiver_event(self, kind: str, stream_id: int, info: dict[str, Any]) -> None:
        """kind in {"started", "error", "stopped", "bad_record"}; info has name, message, error (repr),
        counts ...; an error's ``kind`` is "transient" or "fatal" (the receiver stopped for good).
        Called from receiver threads; must not block long."""


@dataclass(frozen=True)
class StoredBlock:
    """One block as a :class:`MemorySink` received it.

    >>> StoredBlock(0, "input-0-3", ["x"], {}).block_id
    'input-0-3'
    """

    stream_id: int
    block_id: str
    records: list[Any]
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceivedEvent:
    """One event as a :class:`MemorySink` received it."""

    kind: str
    stream_id: int
    info: dict[str, Any]


class MemorySink:
    """A :class:`BlockSink` and :class:`EventSink` that keeps blocks and events in lists.

    Thread-safe. The ``wait_for_*`` methods block until a condition holds and
    raise ``TimeoutError`` (saying what was there) when it does not in time.

    >>> sink = MemorySink()
    >>> sink.store_block(3, "input-3-0", [1, 2], {"source": "demo"})
    >>> sink.store_block(3, "input-3-1", [3], {})
    >>> sink.wait_for_records(3, timeout=1.0)
    [1, 2, 3]
    >>> [b.block_id for b in sink.blocks]
    ['input-3-0', 'input-3-1']
    >>> sink.wait_for_records(4, timeout=0.01)
    Traceback (most recent call last):
    ...
    TimeoutError: waited 0.01 s for 4 records; 3 arrived in 2 blocks
    """

    def __init__(self) -> None:
        self.blocks: list[StoredBlock] = []
        self.events: list[ReceivedEvent] = []
        self.changed = threading.Condition()
        self._record_count = 0

    # -- the two sink interfaces ------------------------------------------------

    def store_block(self, stream_id: int, block_id: str, records: list[Any],
                    metadata: dict[str, Any]) -> None:
        with self.changed:
            self.blocks.append(StoredBlock(stream_id, block_id, records, metadata))
            self._record_count += len(records)
            self.changed.notify_all()

    def receiver_event(self, kind: str, stream_id: int, info: dict[str, Any]) -> None:
        with self.changed:
            self.events.append(ReceivedEvent(kind, stream_id, info))
            self.changed.notify_all()

    # -- reading what arrived ---------------------------------------------------

    @property
    def record_count(self) -> int:
        """How many records arrived, over all blocks."""
        return self._record_count

    def records(self) -> list[Any]:
        """Every record of every block, in the order the blocks arrived."""
        with self.changed:
            return [record for block in self.blocks for record in block.records]

    def event_kinds(self) -> list[str]:
        """The kinds of the events so far, in order."""
        with self.changed:
            return [event.kind for event in self.events]

    def events_of(self, kind: str) -> list[ReceivedEvent]:
        """The events of one kind so far."""
        with self.changed:
            return [event for event in self.events if event.kind == kind]

    # -- waiting ------------------------------------------------------------------

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Wait until ``condition()`` (called under the sink's lock) is true.

        The condition is checked whenever a block or an event arrives, and
        every 20 ms, so it may also look at state outside the sink.

        >>> MemorySink().wait_until(lambda: True, timeout=0.1, what="nothing")
        """
        deadline = time.monotonic() + timeout
        with self.changed:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"waited {timeout} s for {what}; {self._describe()}")
                self.changed.wait(min(remaining, 0.02))

    def wait_for_records(self, count: int, timeout: float) -> list[Any]:
        """Wait until at least ``count`` records arrived; return all records."""
        self.wait_until(lambda: self._record_count >= count, timeout, f"{count} records")
        return self.records()

    def wait_for_event(
        self,
        kind: str,
        timeout: float,
        match: Callable[[dict[str, Any]], bool] | None = None,
    ) -> ReceivedEvent:
        """Wait for an event of ``kind`` (whose info satisfies ``match``); return the first such."""

        def found() -> ReceivedEvent | None:
            for event in self.events:
                if event.kind == kind and (match is None or match(event.info)):
                    return event
            return None

        self.wait_until(lambda: found() is not None, timeout, f"a {kind!r} event")
        with self.changed:
            event = found()
        if event is None:  # cannot happen: events only grow
            raise RuntimeError(f"the {kind!r} event vanished")
        return event

    def _describe(self) -> str:
        kinds: dict[str, int] = {}
        for event in self.events:
            kinds[event.kind] = kinds.get(event.kind, 0) + 1
        events = f"; events {kinds}" if kinds else ""
        return f"{self._record_count} arrived in {len(self.blocks)} blocks{events}"


def describe_error(error: BaseException | None) -> str | None:
    """``repr(error)`` for an event's ``error`` field (None stays None).

    >>> describe_error(ValueError("bad")), describe_error(None)
    ("ValueError('bad')", None)
    """
    return None if error is None else repr(error)
