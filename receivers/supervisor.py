"""Running one receiver: start, restart with backoff, stop, blocks, events, counters.

A :class:`ReceiverSupervisor` owns a receiver and a
:class:`~receivers.blocks.BlockGenerator` whose blocks go to the engine's
:class:`~receivers.sink.BlockSink`. It calls ``onStart``; when the receiver
asks for a restart, or ``onStart`` or one of the receiver's threads raises,
it stops the receiver (``onStop``, then waits for its threads), waits with
exponential backoff and starts it again. The backoff grows with consecutive
failures and starts over once a restarted receiver has stored records. What
happens is reported to the :class:`~receivers.sink.EventSink`:

- ``started``: ``onStart`` returned (after every restart too); info ``attempt``.
- ``error``: a restart (info ``restart_in_s``, ``attempt``), ``reportError``,
  a failed ``onStop``, a thread that would not stop, a block the sink refused;
  info ``kind`` is ``"transient"`` (the receiver goes on or restarts) or
  ``"fatal"`` (``Receiver.fail``: a configuration that can never work; the
  receiver stops for good and ``fatal`` is True).
- ``bad_record``: ``report_bad_record`` (info ``reason`` and the receiver's
  details; at most ``bad_record_events_per_s`` per reason and second, the rest
  counted in the next event's ``suppressed``).
- ``stopped``: the supervisor stopped (info ``graceful``, ``flushed``, and
  ``fatal`` when ``Receiver.fail`` stopped it).

Every event's info has ``name``, ``message``, ``error`` (repr or None) and
the counters (``records_received``, ``records_stored``, ``blocks_stored``,
``records_dropped``, ``bad_records`` by reason, ``restarts``, ``errors`` by
kind).

>>> from dstream.receivers import MemorySink, Receiver
>>> class Flaky(Receiver):
...     starts = 0
...     def onStart(self):
...         Flaky.starts += 1
...         if Flaky.starts == 1:
...             raise ConnectionError("source not there yet")
...         self.store("hello")
...     def onStop(self):
...         pass
>>> sink = MemorySink()
>>> supervisor = ReceiverSupervisor(Flaky(), 4, sink, sink, restart_delay_s=0.01)
>>> supervisor.start()
>>> sink.wait_for_records(1, timeout=5)
['hello']
>>> supervisor.stop(graceful=True)
True
>>> sink.event_kinds(), supervisor.counters()["restarts"]
(['error', 'started', 'stopped'], 1)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from dstream.receivers.block_generator import DEFAULT_BLOCK_INTERVAL_MS, DEFAULT_CAPACITY, BlockGenerator, BlockIds
from dstream.receivers.receiver import Receiver
from dstream.receivers.sink import BlockSink, EventSink, describe_error

__all__ = ["ReceiverSupervisor"]

log = logging.getLogger(__name__)

_Restart = tuple[str, "BaseException | None", "float | None"]


class ReceiverSupervisor:
    """Run ``receiver`` as input stream ``stream_id``, storing its blocks in ``sink``.

    - ``events``: where lifecycle events go (None: only logged).
    - ``block_interval_ms``, ``cut_lead_ms``, ``buffer_capacity``, ``max_rate``,
      ``initial_rate``: see :class:`~receivers.blocks.BlockGenerator`.
    - ``restart_delay_s``, ``max_restart_delay_s``: the backoff between
      restarts doubles from the first to the second with each consecutive failure.
    - ``thread_join_timeout_s``: how long a stop or restart waits for each of
      the receiver's threads; a thread still running then is reported and
      left behind.

    >>> from dstream.receivers import MemorySink
    >>> ReceiverSupervisor("not a receiver", 0, MemorySink())
    Traceback (most recent call last):
    ...
    TypeError: receiver must be a receivers.Receiver, got 'not a receiver'
    """

    def __init__(
        self,
        receiver: Receiver,
        stream_id: int,
        sink: BlockSink,
        events: EventSink | None = None,
        *,
        block_interval_ms: float = DEFAULT_BLOCK_INTERVAL_MS,
        cut_lead_ms: float | None = None,
        buffer_capacity: int = DEFAULT_CAPACITY,
        max_rate: float | None = None,
        initial_rate: float | None = None,
        restart_delay_s: float = 0.2,
        max_restart_delay_s: float = 10.0,
        thread_join_timeout_s: float = 10.0,
        bad_record_events_per_s: int = 10,
        block_ids: BlockIds | None = None,
    ) -> None:
        if not isinstance(receiver, Receiver):
            raise TypeError(f"receiver must be a receivers.Receiver, got {receiver!r}")
        if (
            not isinstance(restart_delay_s, (int, float))
            or not 0 <= restart_delay_s <= max_restart_delay_s
        ):
            raise ValueError(
                "need 0 <= restart_delay_s <= max_restart_delay_s, "
                f"got {restart_delay_s!r}, {max_restart_delay_s!r}"
            )
        if not isinstance(thread_join_timeout_s, (int, float)) or not thread_join_timeout_s > 0:
            raise ValueError(
                f"thread_join_timeout_s must be a number > 0, got {thread_join_timeout_s!r}"
            )
        if events is not None and not callable(getattr(events, "receiver_event", None)):
            raise TypeError(
                f"events must have a receiver_event method (an EventSink), got {events!r}"
            )
        self.receiver = receiver
        self.stream_id = stream_id
        self._events = events
        self._restart_delay_s = float(restart_delay_s)
        self._max_restart_delay_s = float(max_restart_delay_s)
        self._join_timeout_s = float(thread_join_timeout_s)
        self._bad_events_per_s = bad_record_events_per_s
        self._generator = BlockGenerator(
            stream_id,
            sink,
            block_interval_ms=block_interval_ms,
            cut_lead_ms=cut_lead_ms,
            capacity=buffer_capacity,
            max_rate=max_rate,
            initial_rate=initial_rate,
            on_error=self._block_error,
            block_ids=block_ids,
        )
        receiver._attach(self, stream_id, self._generator.store)

        self._lock = threading.Lock()  # state, threads, restart request, counters
        self._transition = threading.RLock()  # one onStart/onStop sequence at a time
        self._state = "initialized"
        self._stop_requested = threading.Event()
        self._stopped = threading.Event()
        self._stop_result = True
        self._receiver_running = False  # onStart called, onStop not yet
        self._threads: list[threading.Thread] = []
        self._thread_seq = 0
        self._restart_request: _Restart | None = None
        self._restart_thread: threading.Thread | None = None
        self._failures = 0  # consecutive restarts without records stored in between
        self._records_at_start = 0
        self._starts = 0
        self._restarts = 0
        self._bad_records: dict[str, int] = {}
        self._errors: dict[str, int] = {}  # error events by kind
        self._fatal: tuple[str, BaseException | None] | None = None
        self._bad_windows: dict[
            str, list[float]
        ] = {}  # reason -> [window start, emitted, suppressed]

    # -- the engine's side ------------------------------------------------------------------

    def start(self) -> None:
        """Start the block generator and the receiver (``onStart``, in this thread)."""
        with self._lock:
            if self._state != "initialized":
                raise RuntimeError(f"{self.receiver.name}: the supervisor was already started")
            self._state = "started"
        self._generator.start()
        self._start_receiver()

    def stop(self, graceful: bool = True, timeout: float | None = None) -> bool:
        """Stop the receiver for good, then the block generator.

        Graceful: after the receiver and its threads stopped, the records
        still buffered go to the sink as a final block. Not graceful: they are
        dropped (counted, reported). ``timeout`` (seconds) bounds the wait for
        the receiver's threads and the final store. Returns True when every
        stored record reached the sink (or was deliberately dropped).
        """
        return self._stop(graceful, timeout, "stopped by the engine", None)

    def set_rate_limit(self, records_per_s: float | None) -> None:
        """Set the receiver's rate limit (records/s; None: only ``max_rate``), for backpressure."""
        self._generator.set_rate_limit(records_per_s)

    @property
    def rate_limit(self) -> float | None:
        """The limit in force (records/s), or None when unthrottled."""
        return self._generator.rate_limit

    def is_alive(self) -> bool:
        """True from ``start`` until ``stop`` (restarts included)."""
        return self._state == "started"

    @property
    def state(self) -> str:
        """``initialized``, ``started``, ``restarting``, ``stopping`` or ``stopped``."""
        with self._lock:
            if self._state == "started" and self._restart_request is not None:
                return "restarting"
            return self._state

    @property
    def records_received(self) -> int:
        return self._generator.records_received

    @property
    def blocks_stored(self) -> int:
        return self._generator.counters()["blocks_stored"]

    @property
    def bad_records(self) -> dict[str, int]:
        """Bad records so far, by reason."""
        with self._lock:
            return dict(self._bad_records)

    @property
    def blocked_producers(self) -> int:
        """``store`` calls waiting for room in the full buffer right now."""
        return self._generator.blocked_producers

    def counters(self) -> dict[str, Any]:
        """Records received and stored, blocks stored, records dropped, bad records, restarts."""
        counts: dict[str, Any] = {"records_received": self._generator.records_received}
        counts.update(self._generator.counters())
        with self._lock:
            counts["bad_records"] = dict(self._bad_records)
            counts["restarts"] = self._restarts
            counts["errors"] = dict(self._errors)
        return counts

    @property
    def fatal_error(self) -> tuple[str, BaseException | None] | None:
        """``(message, error)`` of the ``Receiver.fail`` call that stopped the receiver, or None."""
        with self._lock:
            return self._fatal

    # -- the receiver's side (called through Receiver) ---------------------------------------

    def store_reliably(self, records: Any, metadata: dict[str, Any] | None) -> str:
        return self._generator.store_block(records, metadata)

    def store_buffered(self, records: Any) -> None:
        self._generator.store_all(records)

    def restart_receiver(
        self, message: str, error: BaseException | None, delay: float | None
    ) -> None:
        if delay is not None and (not isinstance(delay, (int, float)) or delay < 0):
            raise ValueError(
                f"{self.receiver.name}: restart delay must be seconds >= 0, got {delay!r}"
            )
        with self._lock:
            if self._stop_requested.is_set() or self._state != "started":
                stopping = True
            else:
                stopping = False
                self.receiver._started = False
                if self._restart_request is None:
                    self._restart_request = (message, error, delay)
                    if self._restart_thread is None:
                        self._restart_thread = threading.Thread(
                            target=self._restart_loop,
                            name=f"restart-{self.receiver.name}",
                            daemon=True,
                        )
                        self._restart_thread.start()
        if stopping:  # no restart while stopping: just say what happened
            self._emit("error", message, error)

    def report_error(self, message: str, error: BaseException | None) -> None:
        self._emit("error", message, error)

    def fail_receiver(self, message: str, error: BaseException | None) -> None:
        """A configuration error: report it as fatal and stop for good (in another thread)."""
        with self._lock:
            stopping = self._stop_requested.is_set() or self._fatal is not None
            if self._fatal is None:
                self._fatal = (message, error)
            self.receiver._started = False
        self._emit("error", message, error, {"kind": "fatal", "fatal": True})
        if not stopping:
            threading.Thread(
                target=self._stop,
                args=(True, None, message, error),
                name=f"stop-{self.receiver.name}",
                daemon=True,
            ).start()

    def report_bad_record(self, reason: str, message: str, details: dict[str, Any]) -> None:
        now = time.monotonic()
        with self._lock:
            self._bad_records[reason] = self._bad_records.get(reason, 0) + 1
            window = self._bad_windows.setdefault(reason, [now, 0, 0])
            if now - window[0] >= 1.0:
                window[0], window[1] = now, 0
            if window[1] >= self._bad_events_per_s:
                window[2] += 1
                return
            window[1] += 1
            suppressed, window[2] = int(window[2]), 0
        self._emit(
            "bad_record", message, None, {**details, "reason": reason, "suppressed": suppressed}
        )

    def stop_from_receiver(self, message: str, error: BaseException | None) -> None:
        threading.Thread(
            target=self._stop,
            args=(True, None, message, error),
            name=f"stop-{self.receiver.name}",
            daemon=True,
        ).start()

    def start_receiver_thread(
        self, target: Callable[..., Any], args: tuple[Any, ...], name: str | None
    ) -> threading.Thread:
        with self._lock:
            self._thread_seq += 1
            thread_name = name or f"{self.receiver.name}-{self._thread_seq}"

        def run() -> None:
            try:
                target(*args)
            except Exception as exc:  # noqa: BLE001 - an escaping exception restarts the receiver
                self.restart_receiver(
                    f"{self.receiver.name}: uncaught exception in thread {thread_name}", exc, None
                )

        thread = threading.Thread(target=run, name=thread_name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
        return thread

    # -- start, stop, restart ------------------------------------------------------------------

    def _start_receiver(self) -> None:
        with self._transition:
            if self._stop_requested.is_set():
                return
            with self._lock:
                self._starts += 1
                attempt = self._failures
            self._records_at_start = self._generator.records_received
            self._receiver_running = True
            self.receiver._started = True
            try:
                self.receiver.onStart()
            except Exception as exc:  # noqa: BLE001 - a failing onStart is retried with backoff
                self.restart_receiver(f"{self.receiver.name}: onStart failed", exc, None)
                return
            if self.receiver._started:
                self._emit("started", f"{self.receiver.name} started", None, {"attempt": attempt})

    def _stop_receiver(self, message: str, join_timeout: float) -> None:
        # Called with _transition held.
        self.receiver._started = False
        if self._receiver_running:
            self._receiver_running = False
            try:
                self.receiver.onStop()
            except Exception as exc:  # noqa: BLE001 - reported, the stop goes on
                self._emit("error", f"{self.receiver.name}: onStop failed ({message})", exc)
        deadline = time.monotonic() + join_timeout
        current = threading.current_thread()
        with self._lock:
            threads = [t for t in self._threads if t is not current]
        stragglers = []
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                stragglers.append(thread.name)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive() and t.name not in stragglers]
        if stragglers:
            self._emit(
                "error",
                f"{self.receiver.name}: thread(s) {', '.join(stragglers)} did not stop within "
                f"{join_timeout:.1f} s after onStop; left running",
                None,
            )

    def _restart_loop(self) -> None:
        while True:
            with self._lock:
                request = self._restart_request
            if request is None or self._stop_requested.is_set():
                break
            message, error, delay = request
            if self._generator.records_received > self._records_at_start:
                self._failures = 0
            self._failures += 1
            if delay is None:
                delay = min(
                    self._max_restart_delay_s, self._restart_delay_s * 2 ** (self._failures - 1)
                )
            with self._lock:
                self._restarts += 1
            self._emit("error", message, error, {"restart_in_s": delay, "attempt": self._failures})
            with self._transition:
                self._stop_receiver(f"restarting: {message}", self._join_timeout_s)
            if self._stop_requested.wait(delay):
                break
            with self._lock:
                self._restart_request = None
            self._start_receiver()
            with self._lock:
                if self._restart_request is None or self._stop_requested.is_set():
                    self._restart_thread = None
                    return
        with self._lock:
            self._restart_thread = None
            self._restart_request = None  # stopped: drop the error (and what its traceback holds)

    def _stop(
        self, graceful: bool, timeout: float | None, message: str, error: BaseException | None
    ) -> bool:
        with self._lock:
            state = self._state
            if state in ("stopping", "stopped"):
                wait = True
            else:
                wait = False
                self._state = "stopping"
                self._stop_requested.set()
        if wait:
            self._stopped.wait(timeout)
            return self._stop_result
        if state == "initialized":
            self._generator.stop(graceful)
            self._finish_stop(True, graceful, message, error)
            return True
        deadline = None if timeout is None else time.monotonic() + timeout

        def remaining(cap: float | None = None) -> float | None:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if cap is None:
                return left
            return cap if left is None else min(cap, left)

        restart_thread = self._restart_thread
        if restart_thread is not None and restart_thread is not threading.current_thread():
            restart_thread.join(remaining())
        with self._transition:
            self._stop_receiver(message, remaining(self._join_timeout_s) or 0.0)
        flushed = self._generator.stop(graceful, remaining())
        self._finish_stop(flushed, graceful, message, error)
        return flushed

    def _finish_stop(
        self, flushed: bool, graceful: bool, message: str, error: BaseException | None
    ) -> None:
        extra: dict[str, Any] = {"graceful": graceful, "flushed": flushed}
        if self._fatal is not None:
            extra["fatal"] = True
        self._emit("stopped", f"{self.receiver.name} {message}", error, extra)
        with self._lock:
            self._state = "stopped"
            self._stop_result = flushed
        self._stopped.set()

    # -- events ----------------------------------------------------------------------------------

    def _block_error(
        self, message: str, error: BaseException | None, details: dict[str, Any]
    ) -> None:
        self._emit("error", f"{self.receiver.name}: {message}", error, details)

    def _emit(
        self,
        kind: str,
        message: str,
        error: BaseException | None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        info: dict[str, Any] = dict(extra or {})
        if kind == "error":
            info.setdefault("kind", "transient")
            info.setdefault("fatal", info["kind"] == "fatal")
            with self._lock:
                self._errors[info["kind"]] = self._errors.get(info["kind"], 0) + 1
        info.update(self.counters())
        info.update(name=self.receiver.name, message=message, error=describe_error(error))
        level = logging.INFO if kind in ("started", "stopped") else logging.WARNING
        log.log(
            level,
            "%s [stream %s]: %s%s",
            kind,
            self.stream_id,
            message,
            f" ({info['error']})" if error else "",
        )
        if self._events is None:
            return
        try:
            self._events.receiver_event(kind, self.stream_id, info)
        except Exception:  # noqa: BLE001 - a broken event sink must not break the receiver
            log.exception("event sink failed on %s event of stream %s", kind, self.stream_id)
