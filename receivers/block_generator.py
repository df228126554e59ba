"""Cutting stored records into blocks: the block generator and block ids.

``BlockGenerator.store(record)`` appends to a bounded buffer under a lock;
a thread cuts the buffer into a block every block interval (by swapping the
list) and hands the block to the sink. The buffer holds at most ``capacity``
records: when it is full the thread cuts at once, and a producer that finds
it still full (the sink is slow) waits, so memory stays bounded (at most the
buffer plus the block being stored). An optional token-bucket rate limit
(records/s) throttles producers. ``store_block`` is the reliable path: the
records become a block of their own, stored before the call returns.

>>> from dstream.receivers.sink import MemorySink
>>> sink = MemorySink()
>>> generator = BlockGenerator(7, sink, block_interval_ms=50, block_ids=BlockIds())
>>> generator.start()
>>> for word in ["a", "b", "c"]:
...     generator.store(word)
>>> generator.store_block(["reliable"], {"offset": 3})
'input-7-0'
>>> generator.stop(graceful=True)
True
>>> sorted(sink.records()), [b.block_id for b in sink.blocks]
(['a', 'b', 'c', 'reliable'], ['input-7-0', 'input-7-1'])
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from dstream.receivers.ratelimit import RateLimiter, validate_rate
from dstream.receivers.sink import BlockSink

__all__ = [
    "DEFAULT_BLOCK_INTERVAL_MS",
    "DEFAULT_CAPACITY",
    "BlockGenerator",
    "BlockIds",
    "GeneratorStoppedError",
    "default_block_ids",
    "parse_block_id",
]

log = logging.getLogger(__name__)

DEFAULT_BLOCK_INTERVAL_MS = 200
DEFAULT_CAPACITY = 200_000

ErrorCallback = Callable[[str, "BaseException | None", dict[str, Any]], None]
"""``on_error(message, error, details)``: a block could not be stored (yet)."""


class GeneratorStoppedError(RuntimeError):
    """A record was stored into a block generator that is not running."""


class BlockIds:
    """Block ids ``input-{stream_id}-{seq}``: ``seq`` increases per stream, from 0.

    One instance is shared by the whole process (:data:`default_block_ids`),
    so a stream's ids keep increasing across receiver restarts and new
    supervisors. ``advance_past`` lets an engine that recovered blocks from a
    write-ahead log continue after the largest id it found.

    >>> ids = BlockIds()
    >>> ids.next(0), ids.next(0), ids.next(1)
    ('input-0-0', 'input-0-1', 'input-1-0')
    >>> ids.advance_past("input-0-41"); ids.next(0)
    'input-0-42'
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[int, int] = {}

    def next(self, stream_id: int) -> str:
        """A new id for ``stream_id``, larger than every id it gave before."""
        with self._lock:
            seq = self._next.get(stream_id, 0)
            self._next[stream_id] = seq + 1
        return f"input-{stream_id}-{seq}"

    def advance_past(self, block_id: str) -> None:
        """Make later ids of the block's stream larger than ``block_id``."""
        stream_id, seq = parse_block_id(block_id)
        with self._lock:
            self._next[stream_id] = max(self._next.get(stream_id, 0), seq + 1)


default_block_ids = BlockIds()
"""The process-wide id sequence block generators use unless given another."""


def parse_block_id(block_id: str) -> tuple[int, int]:
    """``(stream_id, seq)`` of an id ``input-{stream_id}-{seq}``.

    >>> parse_block_id("input-3-17")
    (3, 17)
    >>> parse_block_id("rdd-3-17")
    Traceback (most recent call last):
    ...
    ValueError: not a receiver block id (input-STREAM-SEQ): 'rdd-3-17'
    """
    prefix, _, rest = block_id.partition("-")
    stream, _, seq = rest.partition("-")
    if prefix != "input" or not stream.isdigit() or not seq.isdigit():
        raise ValueError(f"not a receiver block id (input-STREAM-SEQ): {block_id!r}")
    return int(stream), int(seq)


class BlockGenerator:
    """Buffer records for stream ``stream_id`` and hand them to ``sink`` in blocks.

    - ``block_interval_ms``: a block is cut this often (empty buffers give no block).
    - ``cut_lead_ms``: cuts fall this long before each multiple of the block interval on
      the system clock (``wall_clock``, ``time.time``), where batch times fall too; so each
      batch's last block is cut this long before its batch time, and its map side, run
      ahead, has that long to finish. The phase follows the system clock as it is adjusted.
      ``None``: every interval from the start, in whatever phase that gives.
    - ``capacity``: records the buffer holds; a full buffer is cut at once, and
      producers wait while it stays full.
    - ``max_rate``: records/s cap for this generator (None: none);
      ``initial_rate``: the dynamic limit before any :meth:`set_rate_limit`.
      The effective limit is the smaller of ``max_rate`` and the dynamic one.
    - ``on_error(message, error, details)``: told when storing a buffered block
      failed (it is retried with the same id, with backoff up to
      ``max_retry_delay_s``, until stored or the generator is stopped) or when
      records were dropped on a non-graceful or timed-out stop.

    Blocks reach the sink one at a time, in increasing id order.

    >>> from dstream.receivers.sink import MemorySink
    >>> generator = BlockGenerator(0, MemorySink(), capacity=0)
    Traceback (most recent call last):
    ...
    ValueError: capacity must be an int >= 1 (records in the buffer), got 0
    """

    def __init__(
        self,
        stream_id: int,
        sink: BlockSink,
        *,
        block_interval_ms: float = DEFAULT_BLOCK_INTERVAL_MS,
        capacity: int = DEFAULT_CAPACITY,
        max_rate: float | None = None,
        initial_rate: float | None = None,
        on_error: ErrorCallback | None = None,
        block_ids: BlockIds | None = None,
        retry_delay_s: float = 0.05,
        max_retry_delay_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        cut_lead_ms: float | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(stream_id, bool) or not isinstance(stream_id, int) or stream_id < 0:
            raise ValueError(f"stream_id must be an int >= 0, got {stream_id!r}")
        if not callable(getattr(sink, "store_block", None)):
            raise TypeError(f"sink must have a store_block method (a BlockSink), got {sink!r}")
        if not isinstance(block_interval_ms, (int, float)) or not block_interval_ms > 0:
            raise ValueError(f"block_interval_ms must be a number > 0, got {block_interval_ms!r}")
        if cut_lead_ms is not None and (
            not isinstance(cut_lead_ms, (int, float)) or not 0 <= cut_lead_ms < block_interval_ms
        ):
            raise ValueError(
                f"cut_lead_ms must be a number in [0, block_interval_ms = {block_interval_ms}), "
                f"got {cut_lead_ms!r}"
            )
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(
                f"capacity must be an int >= 1 (records in the buffer), got {capacity!r}"
            )
        if not retry_delay_s > 0 or not max_retry_delay_s >= retry_delay_s:
            raise ValueError(
                "need 0 < retry_delay_s <= max_retry_delay_s, "
                f"got {retry_delay_s!r}, {max_retry_delay_s!r}"
            )
        self.stream_id = stream_id
        self.block_interval_s = block_interval_ms / 1000.0
        self.capacity = capacity
        self._sink = sink
        self._on_error = on_error
        self._ids = block_ids if block_ids is not None else default_block_ids
        self._retry_delay_s = retry_delay_s
        self._max_retry_delay_s = max_retry_delay_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._cut_lead_s = None if cut_lead_ms is None else cut_lead_ms / 1000.0

        self._max_rate = validate_rate(max_rate, "max_rate")
        self._dynamic_rate = validate_rate(initial_rate, "initial_rate")
        self._limiter: RateLimiter | None = None
        self._apply_rate()

        # The buffer and its state, guarded by _lock. _cut wakes the cutting
        # thread early (buffer full, stop); _room wakes producers after a cut.
        self._lock = threading.Lock()
        self._cut = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)
        self._buffer: list[Any] = []
        self._running = False
        self._stopping = False
        self._graceful = True
        self._waiting_producers = 0
        self._cut_records = 0  # records that left the buffer in a block

        # One block at a time reaches the sink (ids allocated under this lock).
        self._push_lock = threading.Lock()
        self._abort = threading.Event()  # give up retrying (stop deadline passed)
        self._stats_lock = threading.Lock()
        self._blocks_stored = 0
        self._records_stored = 0
        self._reliable_records = 0
        self._records_dropped = 0
        self._store_failures = 0
        self._thread: threading.Thread | None = None

    # -- producers -----------------------------------------------------------------

    def store(self, record: Any) -> None:
        """Append one record to the current block; waits while the buffer is full or throttled."""
        limiter = self._limiter
        if limiter is not None:
            limiter.acquire(1)
        with self._lock:
            if not self._running:
                self._raise_not_running()
            buffer = self._buffer
            if len(buffer) >= self.capacity - 1:
                self._append_near_full(record)
            else:
                buffer.append(record)

    def store_all(self, records: Iterable[Any]) -> None:
        """Append many records, as ``store`` would one by one, in one lock round trip per block."""
        items = records if isinstance(records, list) else list(records)
        if not items:
            return
        limiter = self._limiter
        if limiter is not None:
            limiter.acquire(len(items))
        with self._lock:
            if not self._running:
                self._raise_not_running()
            start = 0
            while start < len(items):
                room = self.capacity - len(self._buffer)
                if room <= 0:
                    self._cut.notify()
                    self._wait_for_room()
                    continue
                self._buffer.extend(items[start : start + room])
                start += room
                if len(self._buffer) >= self.capacity:
                    self._cut.notify()

    def store_block(self, records: Iterable[Any], metadata: dict[str, Any] | None = None) -> str:
        """Store ``records`` as a block of their own; return its id once the sink stored it.

        The rate limit applies (``len(records)`` permits). A sink failure
        raises here (nothing is retried: the caller decides).
        """
        items = records if isinstance(records, list) else list(records)
        with self._lock:
            if not self._running:
                self._raise_not_running()
        limiter = self._limiter
        if limiter is not None:
            limiter.acquire(len(items))
        with self._push_lock:
            block_id = self._ids.next(self.stream_id)
            self._sink.store_block(self.stream_id, block_id, items, dict(metadata or {}))
        with self._stats_lock:
            self._blocks_stored += 1
            self._records_stored += len(items)
            self._reliable_records += len(items)
        return block_id

    def _append_near_full(self, record: Any) -> None:
        # Called with _lock held, when the buffer has at most one free slot.
        if len(self._buffer) >= self.capacity:
            self._cut.notify()
            self._wait_for_room()
        self._buffer.append(record)
        if len(self._buffer) >= self.capacity:
            self._cut.notify()

    def _wait_for_room(self) -> None:
        # Called with _lock held; returns with it held and room in the buffer.
        self._waiting_producers += 1
        try:
            while True:
                if not self._running:  # checked after every wake: the final cut may have happened
                    self._raise_not_running()
                if len(self._buffer) < self.capacity:
                    return
                self._room.wait()
        finally:
            self._waiting_producers -= 1

    def _raise_not_running(self) -> None:
        state = "stopped" if self._stopping else "not started"
        raise GeneratorStoppedError(f"block generator of stream {self.stream_id} is {state}")

    # -- rate limit ----------------------------------------------------------------

    def set_rate_limit(self, records_per_s: float | None) -> None:
        """Set the dynamic rate limit (records/s; None: only ``max_rate`` applies)."""
        self._dynamic_rate = validate_rate(records_per_s, "records_per_s")
        self._apply_rate()

    @property
    def rate_limit(self) -> float | None:
        """The limit in force (records/s), or None when unthrottled."""
        limiter = self._limiter
        return None if limiter is None else limiter.rate

    def _apply_rate(self) -> None:
        rates = [r for r in (self._max_rate, self._dynamic_rate) if r is not None]
        rate = min(rates) if rates else None
        limiter = self._limiter
        if rate is None:
            self._limiter = None
            if limiter is not None:
                limiter.cancel()  # release anyone sleeping on the old limit
        elif limiter is None:
            self._limiter = RateLimiter(rate)
        else:
            limiter.set_rate(rate)

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start the cutting thread; ``store`` works from now on."""
        with self._lock:
            if self._running or self._stopping:
                raise RuntimeError(
                    f"block generator of stream {self.stream_id} was already started"
                )
            self._running = True
        self._thread = threading.Thread(
            target=self._run, name=f"block-generator-{self.stream_id}", daemon=True
        )
        self._thread.start()

    def stop(self, graceful: bool = True, timeout: float | None = None) -> bool:
        """Stop cutting; ``store`` raises from now on.

        Graceful: the buffered records go to the sink as a final block
        (retried on failure until ``timeout``). Not graceful: they are
        dropped (counted in ``records_dropped`` and reported). Returns True
        when every record stored before the call reached the sink or was
        deliberately dropped, False when the timeout cut the final store short.
        """
        with self._lock:
            if not self._running and not self._stopping:
                self._stopping = True  # never started: nothing to flush
                return True
            self._running = False
            self._stopping = True
            self._graceful = graceful
            self._cut.notify_all()
            self._room.notify_all()
        limiter = self._limiter
        if limiter is not None:
            limiter.cancel()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        if thread.is_alive():
            self._abort.set()  # stop retrying; a sink call in progress still has to return
            thread.join(5.0)
            return False
        return True

    @property
    def is_running(self) -> bool:
        return self._running

    # -- counters --------------------------------------------------------------------

    @property
    def records_received(self) -> int:
        """Records stored so far: in stored blocks, in flight, and still buffered."""
        with self._lock:
            buffered = len(self._buffer)
            cut = self._cut_records
        return cut + buffered + self._reliable_records

    @property
    def buffered(self) -> int:
        """Records waiting in the buffer for the next cut."""
        return len(self._buffer)

    @property
    def blocked_producers(self) -> int:
        """How many ``store`` calls are waiting for room in a full buffer right now."""
        return self._waiting_producers

    def counters(self) -> dict[str, int]:
        """Blocks and records that reached the sink, records dropped, failed sink calls."""
        with self._stats_lock:
            return {
                "blocks_stored": self._blocks_stored,
                "records_stored": self._records_stored,
                "records_dropped": self._records_dropped,
                "store_failures": self._store_failures,
            }

    # -- the cutting thread ------------------------------------------------------------

    def next_cut(self, now: float, previous: float | None = None) -> float:
        """The first cut after ``now`` (both on ``clock``); ``previous``: the last one.

        >>> from dstream.receivers.sink import MemorySink
        >>> generator = BlockGenerator(0, MemorySink(), block_interval_ms=200, cut_lead_ms=50,
        ...                            clock=lambda: 7.0, wall_clock=lambda: 1000.07)
        >>> round(generator.next_cut(7.0), 3)         # 1000.15 on the system clock
        7.08
        """
        interval = self.block_interval_s
        lead = self._cut_lead_s
        if lead is None:
            if previous is None:
                return now + interval
            return previous + interval * (1 + int((now - previous) // interval))
        offset = self._wall_clock() - self._clock()
        cuts_before = math.floor((now + offset + lead) / interval)
        cut = (cuts_before + 1) * interval - lead - offset
        if previous is not None and cut < previous + interval / 2:
            cut += interval     # ``now`` a hair before the cut just made (rounding)
        return cut

    def _run(self) -> None:
        next_tick = self.next_cut(self._clock())
        while True:
            with self._lock:
                while self._running and len(self._buffer) < self.capacity:
                    remaining = next_tick - self._clock()
                    if remaining <= 0:
                        break
                    self._cut.wait(remaining)
                final = not self._running
                block = self._buffer
                self._buffer = []
                self._cut_records += len(block)
                self._room.notify_all()
                graceful = self._graceful
            now = self._clock()
            if now >= next_tick:
                next_tick = self.next_cut(now, next_tick)
            if block:
                if final and not graceful:
                    self._drop(block, "the generator was stopped without a graceful flush")
                else:
                    self._push_buffered(block)
            if final:
                return

    def _push_buffered(self, block: list[Any]) -> None:
        delay = self._retry_delay_s
        with self._push_lock:
            block_id = self._ids.next(self.stream_id)
            while True:
                try:
                    self._sink.store_block(self.stream_id, block_id, block, {})
                except Exception as exc:  # noqa: BLE001 - any sink failure is retried
                    with self._stats_lock:
                        self._store_failures += 1
                    self._report(
                        f"could not store block {block_id} ({len(block)} records); "
                        f"retrying in {delay:.2f} s",
                        exc,
                        {"block_id": block_id, "records": len(block), "retry_in_s": delay},
                    )
                    if self._abort.wait(delay):
                        self._drop(
                            block, f"storing block {block_id} kept failing until the stop timeout"
                        )
                        return
                    delay = min(self._max_retry_delay_s, delay * 2)
                    continue
                with self._stats_lock:
                    self._blocks_stored += 1
                    self._records_stored += len(block)
                return

    def _drop(self, block: list[Any], why: str) -> None:
        with self._stats_lock:
            self._records_dropped += len(block)
        self._report(f"dropped {len(block)} records: {why}", None, {"records": len(block)})

    def _report(self, message: str, error: BaseException | None, details: dict[str, Any]) -> None:
        text = f"stream {self.stream_id}: {message}"
        if self._on_error is None:
            log.warning("%s", text, exc_info=error)
            return
        try:
            self._on_error(text, error, details)
        except Exception:  # noqa: BLE001 - a broken callback must not kill the generator
            log.exception("on_error callback failed for: %s", text)
