"""The Receiver API: subclass, implement ``onStart``/``onStop``, call ``store``.

As in Spark, ``onStart`` must not block: it starts the threads that read the
source (use :meth:`Receiver.start_thread`, so an exception escaping one
restarts the receiver) and returns. The threads loop until ``isStopped()``
and hand records to ``store``. ``onStop`` releases what ``onStart`` set up
(close a socket so a blocked read returns). A receiver runs under a
:class:`~receivers.supervisor.ReceiverSupervisor`, which owns its blocks,
restarts it after errors and reports what happens.

``store`` takes:

- one record (anything but a list or an iterator: a tuple, a str, a dict ... is
  one record): buffered, cut into a block with its neighbours every block
  interval; cheap.
- a list or an iterator of records (optionally with ``metadata``): the
  reliable bulk store. The records become a block of their own and ``store``
  returns only once the sink stored it (it raises if the sink failed), so a
  reliable receiver acknowledges its source after ``store`` returns.

``store_all(records)`` buffers many records at once (as many ``store(record)``
calls would, without the per-call cost); ``store_record(record)`` buffers one
record of any type, lists included.

>>> from dstream.receivers import MemorySink, Receiver, ReceiverSupervisor
>>> class Counter(Receiver):
...     def onStart(self):
...         self.start_thread(self.count)
...     def onStop(self):
...         pass
...     def count(self):
...         for i in range(5):
...             self.store(i)
...         self.store(["x", "y"])            # a reliable block of its own
>>> sink = MemorySink()
>>> supervisor = ReceiverSupervisor(Counter(), 0, sink, sink)
>>> supervisor.start()
>>> sorted(map(str, sink.wait_for_records(7, timeout=5)))
['0', '1', '2', '3', '4', 'x', 'y']
>>> supervisor.stop(graceful=True)
True
>>> sink.event_kinds()
['started', 'stopped']
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

__all__ = ["Receiver", "ReceiverNotAttachedError"]

# type -> is a bulk (reliable) store: lists and iterators. Cached, as store() is per record.
_BULK_TYPES: dict[type, bool] = {list: True, str: False, bytes: False, tuple: False, int: False}


class Supervisor(Protocol):
    """What a receiver calls on the supervisor running it (``ReceiverSupervisor`` is the one):
    the supervisor module builds on this one, so the receiver names it by this protocol."""

    @property
    def state(self) -> str: ...
    @property
    def rate_limit(self) -> float | None: ...
    def store_reliably(self, records: Any, metadata: dict[str, Any] | None) -> str: ...
    def store_buffered(self, records: Any) -> None: ...
    def restart_receiver(self, message: str, error: BaseException | None,
                         delay: float | None) -> None: ...
    def report_error(self, message: str, error: BaseException | None) -> None: ...
    def report_bad_record(self, reason: str, message: str, details: dict[str, Any]) -> None: ...
    def fail_receiver(self, message: str, error: BaseException | None) -> None: ...
    def stop_from_receiver(self, message: str, error: BaseException | None) -> None: ...
    def start_receiver_thread(self, target: Callable[..., Any], args: tuple[Any, ...],
                              name: str | None) -> threading.Thread: ...


class ReceiverNotAttachedError(RuntimeError):
    """The receiver was used before a supervisor ran it."""


class Receiver(abc.ABC):
    """Base class of every receiver (Spark's ``org.apache.spark.streaming.receiver.Receiver``).

    ``storageLevel`` is passed through to the engine, which stores this
    receiver's blocks at that level (None: the engine's default).

    >>> class Nothing(Receiver):
    ...     def onStart(self): pass
    ...     def onStop(self): pass
    >>> r = Nothing()
    >>> r.streamId is None, r.isStarted(), r.isStopped(), r.preferredLocation()
    (True, False, True, None)
    >>> r.store(1)
    Traceback (most recent call last):
    ...
    dstream.receivers.receiver.ReceiverNotAttachedError: Nothing is not running under a ReceiverSupervisor
    """

    def __init__(self, storageLevel: Any = None) -> None:
        self.storageLevel = storageLevel
        self._supervisor: Supervisor | None = None
        self._stream_id: int | None = None
        self._started = False  # set by the supervisor: between onStart and the next stop
        self._store_one: Callable[[Any], None] = self._not_attached

    # -- implemented by subclasses ---------------------------------------------------

    @abc.abstractmethod
    def onStart(self) -> None:
        """Set up and start the threads that receive data. Must not block.

        A receiver in a streaming job, its batches stepped with the manual clock:

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import advance_batch, collect_batches, wait_for_records
        >>> class Words(Receiver):
        ...     def onStart(self):
        ...         self.start_thread(lambda: self.store_all("to be or not".split()))
        ...     def onStop(self):
        ...         pass
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     batches = collect_batches(ssc.receiverStream(Words()))
        ...     ssc.start()
        ...     wait_for_records(ssc, 4)
        ...     _ = advance_batch(ssc)
        ...     ssc.stop(stopSparkContext=False)
        >>> batches
        [['to', 'be', 'or', 'not']]
        """

    @abc.abstractmethod
    def onStop(self) -> None:
        """Release what ``onStart`` set up (threads stop on their own once ``isStopped()``).

        >>> from dstream.receivers import MemorySink, ReceiverSupervisor
        >>> class Connection(Receiver):
        ...     def onStart(self):
        ...         self.connected = True
        ...     def onStop(self):
        ...         self.connected = False
        >>> receiver, sink = Connection(), MemorySink()
        >>> supervisor = ReceiverSupervisor(receiver, 0, sink, sink)
        >>> supervisor.start()
        >>> receiver.connected
        True
        >>> _ = supervisor.stop()
        >>> receiver.connected
        False
        """

    def preferredLocation(self) -> str | None:
        """Where the engine should run this receiver (host name), or None for anywhere.

        >>> class Pinned(Receiver):
        ...     def onStart(self): pass
        ...     def onStop(self): pass
        ...     def preferredLocation(self):
        ...         return "worker-1"
        >>> Pinned().preferredLocation()
        'worker-1'
        """
        return None

    # -- identity ----------------------------------------------------------------------

    @property
    def streamId(self) -> int | None:
        """The id of the input stream this receiver feeds (None until a supervisor runs it).

        >>> from dstream.receivers import MemorySink, ReceiverSupervisor
        >>> class Idle(Receiver):
        ...     def onStart(self): pass
        ...     def onStop(self): pass
        >>> receiver, sink = Idle(), MemorySink()
        >>> receiver.streamId is None
        True
        >>> supervisor = ReceiverSupervisor(receiver, 7, sink, sink)
        >>> receiver.streamId
        7
        """
        return self._stream_id

    @property
    def name(self) -> str:
        """How events and errors name this receiver: class name and stream id.

        >>> from dstream.receivers import MemorySink, ReceiverSupervisor
        >>> class Idle(Receiver):
        ...     def onStart(self): pass
        ...     def onStop(self): pass
        >>> receiver, sink = Idle(), MemorySink()
        >>> receiver.name
        'Idle'
        >>> _ = ReceiverSupervisor(receiver, 7, sink, sink)
        >>> receiver.name
        'Idle-7'
        """
        if self._stream_id is None:
            return type(self).__name__
        return f"{type(self).__name__}-{self._stream_id}"

    # -- storing -------------------------------------------------------------------------

    def store(self, data: Any, metadata: dict[str, Any] | None = None) -> None:
        """Store one record (buffered), or a list/iterator of records as a reliable block.

        A reliable block returns only once the sink stored it and raises if
        it could not be stored. ``metadata`` (reliable blocks only) goes to
        the sink with the block, e.g. the source offsets it covers.

        >>> from dstream.receivers import MemorySink, ReceiverSupervisor
        >>> class Lines(Receiver):
        ...     def onStart(self):
        ...         self.start_thread(self.read)
        ...     def onStop(self):
        ...         pass
        ...     def read(self):
        ...         self.store("one line")                                # buffered
        ...         self.store(["a", "reliable", "block"], {"offset": 3})  # stored on return
        >>> sink = MemorySink()
        >>> supervisor = ReceiverSupervisor(Lines(), 0, sink, sink)
        >>> supervisor.start()
        >>> sorted(sink.wait_for_records(4, timeout=5))
        ['a', 'block', 'one line', 'reliable']
        >>> [block.metadata for block in sink.blocks if block.records == ["a", "reliable", "block"]]
        [{'offset': 3}]
        >>> supervisor.stop()
        True
        """
        bulk = _BULK_TYPES.get(type(data))
        if bulk is None:
            bulk = _BULK_TYPES[type(data)] = issubclass(type(data), (list, Iterator))
        if not bulk:
            if metadata is not None:
                raise TypeError(
                    f"{self.name}: metadata goes with a block (a list or an iterator of records), "
                    f"not with one record of type {type(data).__name__}"
                )
            self._store_one(data)
            return
        self._attached().store_reliably(data, metadata)

    def store_record(self, record: Any) -> None:
        """Buffer one record, whatever its type (a list too): ``store`` without the dispatch.

        >>> from dstream.receivers import MemorySink, ReceiverSupervisor
        >>> class Pairs(Receiver):
        ...     def onStart(self):
        ...         self.store_record(["key", "value"])      # one record, not a block of two
        ...     def onStop(self):
        ...         pass
        >>> sink = MemorySink()
        >>> supervisor = ReceiverSupervisor(Pairs(), 0, sink, sink)
        >>> supervisor.start()
        >>> sink.wait_for_records(1, timeout=5)
        [['key', 'value']]
        >>> supervisor.stop()
        True
        """
        self._store_one(record)

    def current_rate_limit(self) -> float | None:
        """The rate limit (records/s) the supervisor applies now, or None: for sizing reads.

        >>> from dstream.receivers import MemorySink, ReceiverSupervisor
        >>> class Idle(Receiver):
        ...     def onStart(self): pass
        ...     def onStop(self): pass
        >>> receiver, sink = Idle(), MemorySink()
        >>> supervisor = ReceiverSupervisor(receiver, 0, sink, sink)
        >>> receiver.current_rate_limit() is None
        True
        >>> supervisor.set_rate_limit(500)               # what backpressure does
        >>> receiver.current_rate_limit()
        500.0
        """
        return self._attached().rate_limit

    def store_all(self, records: Any) -> None:
        """Buffer every record of ``records`` as ``store(record)`` would, in one call.

        >>> from dstream.receivers import MemorySink, ReceiverSupervisor
        >>> class Numbers(Receiver):
        ...     def onStart(self):
        ...         self.store_all(range(5))
        ...     def onStop(self):
        ...         pass
        >>> sink = MemorySink()
        >>> supervisor = ReceiverSupervisor(Numbers(), 0, sink, sink)
        >>> supervisor.start()
        >>> sink.wait_for_records(5, timeout=5)
        [0, 1, 2, 3, 4]
        >>> supervisor.stop()
        True
        """
        self._attached().store_buffered(records)

    # -- state and control -----------------------------------------------------------------

    def isStarted(self) -> bool:
        """True between a successful ``onStart`` and the next stop or restart.

        >>> from dstream.receivers import MemorySink, ReceiverSupervisor
        >>> class Idle(Receiver):
        ...     def onStart(self): pass
        ...     def onStop(self): pass
        >>> receiver, sink = Idle(), MemorySink()
        >>> supervisor = ReceiverSupervisor(receiver, 0, sink, sink)
        >>> receiver.isStarted(), receiver.isStopped()
        (False, True)
        >>> supervisor.start()
        >>> receiver.isStarted(), receiver.isStopped()
        (True, False)
        >>> supervisor.stop()
        True
        >>> receiver.isStarted(), receiver.isStopped()
        (False, True)
        """
        return self._started

    def isStopped(self) -> bool:
        """True unless the receiver is started: receiving threads loop ``while not isStopped()``
        (``isStarted`` shows both through a start and a stop).

        >>> class Idle(Receiver):
        ...     def onStart(self): pass
        ...     def onStop(self): pass
        >>> Idle().isStopped()
        True
        """
        return not self._started

    def restart(
        self, message: str, error: BaseException | None = None, delay: float | None = None
    ) -> None:
        """Stop the receiver (``onStop``), wait, and start it again (``onStart``); returns at once.

        ``delay`` is in seconds; None uses the supervisor's exponential
        backoff. Reported as an ``error`` event. Calls while a restart is
        pending are ignored.

        >>> from dstream.receivers import MemorySink, ReceiverSupervisor
        >>> class Flaky(Receiver):
        ...     starts = 0
        ...     def onStart(self):
        ...         Flaky.starts += 1
        ...         if Flaky.starts == 1:
        ...             self.restart("connection reset", delay=0)
        ...     def onStop(self):
        ...         pass
        >>> sink = MemorySink()
        >>> supervisor = ReceiverSupervisor(Flaky(), 0, sink, sink)
        >>> supervisor.start()
        >>> sink.wait_until(lambda: Flaky.starts == 2, timeout=5, what="the restart")
        >>> [event.info["message"] for event in sink.events_of("error")]
        ['connection reset']
        >>> supervisor.stop()
        True
        """
        self._attached().restart_receiver(message, error, delay)

    def reportError(self, message: str, error: BaseException | None = None) -> None:
        """Report an error (an ``error`` event) without restarting.

        >>> from dstream.receivers import MemorySink, ReceiverSupervisor
        >>> class Slow(Receiver):
        ...     def onStart(self):
        ...         self.reportError("the source answers slowly", TimeoutError("3 s"))
        ...     def onStop(self):
        ...         pass
        >>> sink = MemorySink()
        >>> supervisor = ReceiverSupervisor(Slow(), 0, sink, sink)
        >>> supervisor.start()
        >>> error = sink.events_of("error")[0].info
        >>> error["message"], error["error"], error["kind"], supervisor.is_alive()
        ('the source answers slowly', "TimeoutError('3 s')", 'transient', True)
        >>> supervisor.stop()
        True
        """
        self._attached().report_error(message, error)

    def report_bad_record(self, reason: str, message: str, **details: Any) -> None:
        """Count a record that was rejected (by ``reason``) and report a ``bad_record`` event.

        ``details`` (offset, topic, length ...) go into the event's info.

        >>> from dstream.receivers import MemorySink, ReceiverSupervisor
        >>> class Strict(Receiver):
        ...     def onStart(self):
        ...         self.report_bad_record("too_long", "a line of 2 MB dropped", offset=41)
        ...     def onStop(self):
        ...         pass
        >>> sink = MemorySink()
        >>> supervisor = ReceiverSupervisor(Strict(), 0, sink, sink)
        >>> supervisor.start()
        >>> supervisor.bad_records
        {'too_long': 1}
        >>> event = sink.events_of("bad_record")[0].info
        >>> event["reason"], event["offset"], event["message"]
        ('too_long', 41, 'a line of 2 MB dropped')
        >>> supervisor.stop()
        True
        """
        self._attached().report_bad_record(reason, message, details)

    def fail(self, message: str, error: BaseException | None = None) -> None:
        """Stop for good because the configuration can never work (bad setting, authentication
        refused, source missing): a ``fatal`` error event; an engine stops its context with it.
        Returns at once. Use ``restart`` for faults that may pass (source down, connection reset).

        >>> from dstream.receivers import MemorySink, ReceiverSupervisor
        >>> class Refused(Receiver):
        ...     def onStart(self):
        ...         self.fail("authentication refused: check the password")
        ...     def onStop(self):
        ...         pass
        >>> sink = MemorySink()
        >>> supervisor = ReceiverSupervisor(Refused(), 0, sink, sink)
        >>> supervisor.start()
        >>> sink.wait_until(lambda: supervisor.state == "stopped", timeout=5, what="the stop")
        >>> supervisor.fatal_error
        ('authentication refused: check the password', None)
        >>> sink.events_of("error")[0].info["kind"]
        'fatal'
        """
        self._attached().fail_receiver(message, error)

    def stop(self, message: str, error: BaseException | None = None) -> None:
        """Stop receiving for good: the supervisor stops gracefully (returns at once).

        >>> from dstream.receivers import MemorySink, ReceiverSupervisor
        >>> class Finite(Receiver):
        ...     def onStart(self):
        ...         self.start_thread(self.read)
        ...     def onStop(self):
        ...         pass
        ...     def read(self):
        ...         self.store_all(["last", "lines"])
        ...         self.stop("end of the input")
        >>> sink = MemorySink()
        >>> supervisor = ReceiverSupervisor(Finite(), 0, sink, sink)
        >>> supervisor.start()
        >>> sink.wait_until(lambda: supervisor.state == "stopped", timeout=5, what="the stop")
        >>> sink.records(), sink.event_kinds()
        (['last', 'lines'], ['started', 'stopped'])
        """
        self._attached().stop_from_receiver(message, error)

    def start_thread(
        self, target: Callable[..., Any], *args: Any, name: str | None = None
    ) -> threading.Thread:
        """Start a daemon thread running ``target(*args)`` that belongs to this receiver.

        An exception escaping ``target`` restarts the receiver (or is
        reported, when it is stopping); on stop and restart the supervisor
        waits for these threads to end before ``onStart`` runs again.

        >>> from dstream.receivers import MemorySink, ReceiverSupervisor
        >>> class Polling(Receiver):
        ...     def onStart(self):
        ...         self.thread = self.start_thread(self.poll, 3, name="poller")
        ...     def onStop(self):
        ...         pass
        ...     def poll(self, n):
        ...         for i in range(n):
        ...             self.store(i)
        >>> receiver, sink = Polling(), MemorySink()
        >>> supervisor = ReceiverSupervisor(receiver, 0, sink, sink)
        >>> supervisor.start()
        >>> sink.wait_for_records(3, timeout=5), receiver.thread.name
        ([0, 1, 2], 'poller')
        >>> supervisor.stop()
        True
        """
        return self._attached().start_receiver_thread(target, args, name)

    # snake_case aliases
    def is_started(self) -> bool:
        """``isStarted``, in snake_case.

        >>> class Idle(Receiver):
        ...     def onStart(self): pass
        ...     def onStop(self): pass
        >>> Idle().is_started()
        False
        """
        return self.isStarted()

    def is_stopped(self) -> bool:
        """``isStopped``, in snake_case.

        >>> class Idle(Receiver):
        ...     def onStart(self): pass
        ...     def onStop(self): pass
        >>> Idle().is_stopped()
        True
        """
        return self.isStopped()

    def report_error(self, message: str, error: BaseException | None = None) -> None:
        """``reportError``, in snake_case.

        >>> from dstream.receivers import MemorySink, ReceiverSupervisor
        >>> class Slow(Receiver):
        ...     def onStart(self):
        ...         self.report_error("the source answers slowly")
        ...     def onStop(self):
        ...         pass
        >>> sink = MemorySink()
        >>> supervisor = ReceiverSupervisor(Slow(), 0, sink, sink)
        >>> supervisor.start()
        >>> sink.events_of("error")[0].info["message"]
        'the source answers slowly'
        >>> supervisor.stop()
        True
        """
        self.reportError(message, error)

    def preferred_location(self) -> str | None:
        """``preferredLocation``, in snake_case.

        >>> class Idle(Receiver):
        ...     def onStart(self): pass
        ...     def onStop(self): pass
        >>> Idle().preferred_location() is None
        True
        """
        return self.preferredLocation()

    # -- wiring (used by the supervisor) ------------------------------------------------------

    def _attach(
        self, supervisor: Supervisor, stream_id: int, store_one: Callable[[Any], None]
    ) -> None:
        previous = self._supervisor
        if previous is not None and previous is not supervisor and previous.state != "stopped":
            raise RuntimeError(
                f"{self.name} already belongs to a ReceiverSupervisor that is not stopped"
            )
        self._supervisor = supervisor
        self._stream_id = stream_id
        self._store_one = store_one

    def _attached(self) -> Supervisor:
        supervisor = self._supervisor
        if supervisor is None:
            self._not_attached(None)
        return supervisor  # type: ignore[return-value]

    def _not_attached(self, _record: Any) -> None:
        raise ReceiverNotAttachedError(f"{self.name} is not running under a ReceiverSupervisor")
