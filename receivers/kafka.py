"""A reliable Kafka receiver (the shape of Spark's ``KafkaUtils.createStream``), with kafka-python.

One :class:`KafkaReceiver` is one consumer, one member of the consumer group
``group_id``, subscribed to ``topics``. Its thread polls, decodes each record
into a ``(key, value)`` pair (UTF-8 by default), gathers records for up to a
block interval, and stores them with the reliable ``store(records,
metadata)``: the block's metadata carries ``{"kafka_offsets": {(topic,
partition): next_offset}}``. Only after ``store`` returned (the engine stored
the block durably) does it commit those offsets to Kafka; automatic commits
are off.

Delivery is at least once, and a consumer that starts over never brings back
what this receiver already stored: the receiver keeps its own position per
partition (past every record it stored, or that ``resume_from`` says the
engine's write-ahead log holds) and reads on from there whenever it is behind
the group's committed offsets (after a restart of its consumer, a rebalance, a
broker outage). A commit that fails for ``commit_timeout_s`` (broker away) is
reported and its offsets stay pending until Kafka answers; the receiver goes on.
A graceful stop stores and commits what was polled. What can still come twice:
after the process was killed with the write-ahead log off, the records stored
but not committed; in a group of several receivers, the records a partition's
old owner stored but had not committed when it moved to another member.

Faults and errors, reported as ``error`` events (the receiver's ``lastError``):

- transient (``kind="transient"``): brokers unreachable, a connection reset, a
  failed commit; the receiver restarts with the supervisor's backoff (or, for a
  commit, retries), so it survives a broker restart. No records and no answer
  from the brokers for ``stall_timeout_s`` is reported once per stall.
- configuration (``kind="fatal"``, :class:`KafkaReceiverConfigError`): a
  login the brokers refuse, access denied, settings kafka-python rejects, a
  topic that does not exist (looked for ``topic_wait_s``) when nothing will
  create it. The receiver stops for good (``Receiver.fail``); the engine stops
  its context, and ``awaitTermination`` raises the error.

Records the decoder rejects follow ``bad_record_policy``:

- ``"fail"`` (default): nothing is skipped silently. The records before the
  bad one are stored and committed, the bad one is counted (a ``bad_record``
  event), and the receiver restarts (an ``error`` event naming topic,
  partition and offset). The committed offset stays at the bad record, so
  each restart meets it again: the stream stalls there, loudly, until the
  record is dealt with (another policy, or the offsets moved by hand).
- ``"skip"``: the record is counted, reported (``bad_record``) and passed.
- ``"dead_letter"``: the raw record (key, value, and headers naming its
  topic, partition, offset and the error) is produced to
  ``dead_letter_topic``, counted and reported; its offset is committed only
  once the dead-letter write is acknowledged. A crash in between can write it
  to the dead-letter topic twice.

kafka-python is imported when the receiver first needs it.

>>> receiver = KafkaReceiver("127.0.0.1:9092", "wordcount", ["lines"])
>>> receiver.topics, receiver.bad_record_policy, receiver.decoder(b"k", b"v")
(['lines'], 'fail', ('k', 'v'))
>>> KafkaReceiver("127.0.0.1:9092", "g", ["t"], bad_record_policy="dead_letter")
Traceback (most recent call last):
...
ValueError: bad_record_policy='dead_letter' needs a dead_letter_topic
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

from dstream.receivers.kafka_client import (
    KafkaReceiverConfigError,
    KafkaReceiverError,
    import_kafka,
    is_configuration_error,
    open_client,
    watch_refusals,
)
from dstream.receivers.kafka_bad_records import Session, bad_record
from dstream.receivers.kafka_params import offset_reset, receiver_params
from dstream.receivers.receiver import Receiver

__all__ = [
    "BAD_RECORD_POLICIES",
    "KafkaReceiver",
    "KafkaReceiverConfigError",
    "KafkaReceiverError",
    "decode_utf8_pair",
]

log = logging.getLogger(__name__)

BAD_RECORD_POLICIES = ("fail", "skip", "dead_letter")

Decoder = Callable[[bytes | None, bytes | None], Any]


def decode_utf8_pair(key: bytes | None, value: bytes | None) -> tuple[str | None, str | None]:
    """The default decoder: ``(key, value)`` decoded as UTF-8 (None stays None).

    >>> decode_utf8_pair(b"user-1", "caf\\u00e9".encode())
    ('user-1', 'café')
    >>> decode_utf8_pair(None, b"\\xff")
    Traceback (most recent call last):
    ...
    UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte
    """
    return (
        None if key is None else key.decode("utf-8"),
        None if value is None else value.decode("utf-8"),
    )


class KafkaReceiver(Receiver):
    """Receive ``(key, value)`` records of ``topics`` as member of consumer group ``group_id``.

    - ``topics``: topic names (a dict ``{topic: threads}`` as Spark takes is
      accepted; the thread counts are ignored: one consumer per receiver,
      run more receivers for more parallelism).
    - ``kafka_params``: more consumer settings, in Kafka's dotted names with
      string values (``{"session.timeout.ms": "6000"}``) or kafka-python's
      (``{"session_timeout_ms": 6000}``), see :mod:`~receivers.kafka_params`;
      an unknown one or a bad value is a ``ValueError`` naming it.
    - ``decoder(key_bytes, value_bytes) -> record``: default UTF-8 pairs.
    - ``bad_record_policy``, ``dead_letter_topic``: see the module.
    - ``auto_offset_reset``: where a group without committed offsets starts:
      ``latest`` (default, as Spark's receiver: ``largest``) or ``earliest``
      (``smallest``); ``auto.offset.reset`` in ``kafka_params`` says the same,
      and the two may not disagree.
    - ``block_interval_ms``, ``max_block_records``: a block is stored when
      its first record is this old or it has this many records.
    - ``idle_check_interval_s``: while no records come, check this often that
      the brokers answer and the topics exist.
    - ``commit_timeout_s``: how long one commit is retried before the failure
      is reported (the offsets stay pending and are committed later).
    - ``stall_timeout_s``: no records and no answer from the brokers for this
      long is reported as a stall (an ``error`` event), once per stall.
    - ``topic_wait_s``: how long a missing topic is looked for before it is
      a configuration error (unless ``allow.auto.create.topics`` is true).

    >>> KafkaReceiver("k:9092", "g", ["t"], {"auto.offset.reset": "smallest"}).auto_offset_reset
    'earliest'
    >>> KafkaReceiver("k:9092", "g", ["t"], {"session.timeout.ms": "6000"}).kafka_params
    {'session_timeout_ms': 6000}
    """

    def __init__(
        self,
        bootstrap_servers: str | list[str],
        group_id: str,
        topics: Iterable[str] | Mapping[str, int] | str,
        kafka_params: Mapping[str, Any] | None = None,
        storageLevel: Any = None,
        decoder: Decoder | None = None,
        bad_record_policy: str = "fail",
        dead_letter_topic: str | None = None,
        *,
        auto_offset_reset: str | None = None,
        block_interval_ms: int = 200,
        max_block_records: int = 10_000,
        poll_timeout_ms: int = 100,
        idle_check_interval_s: float = 2.0,
        commit_timeout_s: float = 10.0,
        stall_timeout_s: float = 30.0,
        topic_wait_s: float = 3.0,
    ) -> None:
        super().__init__(storageLevel)
        if not bootstrap_servers:
            raise ValueError("bootstrap_servers must name at least one broker (host:port)")
        if not isinstance(group_id, str) or not group_id:
            raise ValueError(f"group_id must be a non-empty str, got {group_id!r}")
        names = [topics] if isinstance(topics, str) else list(topics)
        if not names or not all(isinstance(t, str) and t for t in names):
            raise ValueError(f"topics must be one or more non-empty topic names, got {topics!r}")
        if bad_record_policy not in BAD_RECORD_POLICIES:
            raise ValueError(
                f"bad_record_policy must be one of {BAD_RECORD_POLICIES}, got {bad_record_policy!r}"
            )
        if bad_record_policy == "dead_letter" and not dead_letter_topic:
            raise ValueError("bad_record_policy='dead_letter' needs a dead_letter_topic")
        if dead_letter_topic and dead_letter_topic in names:
            raise ValueError(f"dead_letter_topic {dead_letter_topic!r} is one of the topics read")
        if decoder is not None and not callable(decoder):
            raise TypeError(
                f"decoder must be a function (key_bytes, value_bytes) -> record, got {decoder!r}"
            )
        for name, value in (
            ("block_interval_ms", block_interval_ms),
            ("max_block_records", max_block_records),
            ("poll_timeout_ms", poll_timeout_ms),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        for name, seconds in (
            ("idle_check_interval_s", idle_check_interval_s),
            ("commit_timeout_s", commit_timeout_s),
            ("stall_timeout_s", stall_timeout_s),
            ("topic_wait_s", topic_wait_s),
        ):
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, got {seconds!r}")
        params = receiver_params(kafka_params, bootstrap_servers, group_id)
        self.auto_offset_reset = offset_reset(auto_offset_reset, params.pop("auto_offset_reset", None))
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.topics = sorted(set(names))
        self.kafka_params = params
        self.decoder: Decoder = decoder if decoder is not None else decode_utf8_pair
        self.bad_record_policy = bad_record_policy
        self.dead_letter_topic = dead_letter_topic
        self.block_interval_s = block_interval_ms / 1000
        self.max_block_records = max_block_records
        self.poll_timeout_ms = poll_timeout_ms
        self.idle_check_interval_s = float(idle_check_interval_s)
        self.commit_timeout_s = float(commit_timeout_s)
        self.stall_timeout_s = float(stall_timeout_s)
        self.topic_wait_s = float(topic_wait_s)
        self._committed: dict[tuple[str, int], int] = {}
        # Where this receiver goes on reading each partition: past everything it stored (or the
        # engine's log holds, see resume_from). Kept over restarts of the consumer.
        self._positions: dict[tuple[str, int], int] = {}
        self._positions_lock = threading.Lock()
        #: commit each block's offsets as soon as it is stored (standalone use); an engine that
        #: commits after its batches succeed sets this to False and calls ``request_commit``
        self.commit_on_store = True
        self._pending_commit: dict[tuple[str, int], int] = {}
        self._commit_lock = threading.Lock()
        self._consumer_live = False
        self._progress_at = time.monotonic()  # the brokers last answered (records, metadata, commit)
        self._in_store = False

    def request_commit(self, offsets: Mapping[tuple[str, int], int]) -> None:
        """Commit these offsets (``{(topic, partition): next_offset}``) to Kafka: the receiver's
        consumer does it on its next poll; once the receiver has stopped, a short-lived
        consumer of the same group does it now."""
        with self._commit_lock:
            self._queue_commit_locked(offsets)
            live = self._consumer_live
        if not live:
            self._commit_after_stop()

    def _queue_commit_locked(self, offsets: Mapping[tuple[str, int], int]) -> None:
        for key, offset in offsets.items():
            self._pending_commit[key] = max(offset, self._pending_commit.get(key, 0))

    def _take_pending_commit(self) -> dict[tuple[str, int], int]:
        with self._commit_lock:
            pending, self._pending_commit = self._pending_commit, {}
            return pending

    def _commit_after_stop(self) -> None:
        pending = self._take_pending_commit()
        if not pending:
            return
        try:
            self._commit_alone(pending)
        except Exception:
            with self._commit_lock:        # kept for the next commit
                self._queue_commit_locked(pending)
            raise

    def _commit_alone(self, offsets: dict[tuple[str, int], int]) -> None:
        """Commit ``offsets`` with a short-lived consumer of the group (no subscription)."""
        kafka = import_kafka()
        config = {
            key: value
            for key, value in self.kafka_params.items()
            if not key.startswith(("session_", "heartbeat_", "max_poll", "fetch_"))
        }
        consumer = open_client(
            kafka.KafkaConsumer,
            **{**config, "bootstrap_servers": self.bootstrap_servers, "group_id": self.group_id,
               "enable_auto_commit": False, "client_id": f"dstream-{self.name}-commit"},
        )
        try:
            self._commit(kafka, consumer, offsets)
        finally:
            consumer.close(autocommit=False, timeout_ms=2000)

    def resume_from(self, offsets: Mapping[tuple[str, int], int]) -> None:
        """Records below these offsets are already stored (e.g. in the engine's write-ahead
        log, replayed after a crash): skip them even if Kafka's committed offsets are older,
        so a block stored but not committed before a crash is not received twice.

        >>> r = KafkaReceiver("127.0.0.1:9092", "g", ["t"])
        >>> r.resume_from({("t", 0): 42}); r.resume_offsets
        {('t', 0): 42}
        """
        with self._positions_lock:
            for key, offset in offsets.items():
                self._positions[key] = max(offset, self._positions.get(key, 0))

    @property
    def resume_offsets(self) -> dict[tuple[str, int], int]:
        """Where this receiver reads each partition from next, ``{(topic, partition): offset}``:
        past every record it stored (and what ``resume_from`` said is stored)."""
        with self._positions_lock:
            return dict(self._positions)

    @property
    def committed_offsets(self) -> dict[tuple[str, int], int]:
        """The offsets this receiver committed last, ``{(topic, partition): next_offset}``."""
        return dict(self._committed)

    def _where(self) -> str:
        servers, topics, group = self.bootstrap_servers, self.topics, self.group_id
        return f"bootstrap servers {servers!r} (topics {topics}, group {group!r})"

    # -- lifecycle ----------------------------------------------------------------------

    def onStart(self) -> None:
        self._progress_at = time.monotonic()
        self.start_thread(self._run, name=f"{self.name}-kafka")
        if self.stall_timeout_s > 0:
            self.start_thread(self._watch_stall, name=f"{self.name}-kafka-stall")

    def onStop(self) -> None:
        pass  # the thread sees isStopped() within poll_timeout_ms, stores, commits and closes

    def _run(self) -> None:
        kafka = import_kafka()
        consumer = None
        session = Session()
        try:
            consumer = self._connect(kafka)
            self._check_topics(kafka, consumer)
            consumer.subscribe(self.topics)
            with self._commit_lock:
                self._consumer_live = True
            self._consume(kafka, consumer, session)
        except Exception as exc:  # noqa: BLE001 - every failure restarts, fails or is reported
            self._on_failure(exc)
        finally:
            self._finish_commits(kafka, consumer)
            self._close(session.producer, consumer)
            self._commit_left_over()

    def _on_failure(self, exc: Exception) -> None:
        known = isinstance(exc, (KafkaReceiverError, KafkaReceiverConfigError))
        message = str(exc) if known else f"{self.name}: {exc!r} reading from {self._where()}"
        if is_configuration_error(exc):
            if not isinstance(exc, KafkaReceiverConfigError):
                fatal = KafkaReceiverConfigError(
                    f"{message} (a configuration error: check the Kafka parameters, "
                    "credentials and topic names)"
                )
                fatal.__cause__ = exc
                exc = fatal
            self.fail(str(exc), exc)
            return
        error = exc.__cause__ if known and exc.__cause__ else exc
        if self.isStopped():
            self.reportError(message, error)
        else:
            self.restart(message, error)

    def _watch_stall(self) -> None:
        """Report a stall: no records and no answer from the brokers for ``stall_timeout_s``."""
        stalled = False
        check = threading.Event()
        while not self.isStopped():
            check.wait(min(0.25, self.stall_timeout_s / 4))
            quiet = time.monotonic() - self._progress_at
            if self._in_store:
                continue
            if not stalled and quiet >= self.stall_timeout_s:
                stalled = True
                self.reportError(
                    f"{self.name}: stalled: no records and no answer from Kafka at "
                    f"{self._where()} for {quiet:.1f} s (stall timeout {self.stall_timeout_s:g} s)",
                    None,
                )
            elif stalled and quiet < self.stall_timeout_s:
                stalled = False
                log.warning("%s: Kafka at %s answers again", self.name, self._where())

    def _finish_commits(self, kafka: ModuleType, consumer: Any) -> None:
        """Commit what was requested while this consumer lived; later requests commit alone."""
        with self._commit_lock:
            self._consumer_live = False
        pending = self._take_pending_commit()
        if pending and consumer is not None:
            try:
                self._commit(kafka, consumer, pending)
            except Exception as exc:  # noqa: BLE001 - kept for the next commit, reported
                with self._commit_lock:
                    self._queue_commit_locked(pending)
                self.reportError(
                    f"{self.name}: committing offsets {pending} failed; they stay pending", exc
                )

    def _commit_left_over(self) -> None:
        """Commit what the consumer could not before it closed (its group was rebalancing as it
        stopped, say): a short-lived consumer can, now that it has left the group."""
        try:
            self._commit_after_stop()
        except Exception as exc:  # noqa: BLE001 - they stay pending for the next commit
            self.reportError(f"{self.name}: committing offsets after the consumer closed "
                             "failed; they stay pending", exc)

    def _close(self, producer: Any, consumer: Any) -> None:
        try:
            if producer is not None:
                producer.close(timeout=5)
        except Exception as exc:  # noqa: BLE001 - reported; the consumer is closed anyway
            self.reportError(f"{self.name}: closing the dead-letter producer failed", exc)
        try:
            if consumer is not None:
                consumer.close(autocommit=False, timeout_ms=2000)
        except Exception as exc:  # noqa: BLE001 - nothing uncommitted depends on it
            self.reportError(f"{self.name}: closing the Kafka consumer failed", exc)

    def _connect(self, kafka: ModuleType) -> Any:
        config: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "group_id": self.group_id,
            "client_id": f"dstream-{self.name}",
            "enable_auto_commit": False,
            "auto_offset_reset": self.auto_offset_reset,
            "allow_auto_create_topics": False,
            "max_poll_records": self.max_block_records,
            "bootstrap_timeout_ms": 10_000,
        }
        config.update(self.kafka_params)
        try:
            with watch_refusals(config["client_id"]) as watch:
                consumer = open_client(kafka.KafkaConsumer, **config)
        except (TypeError, ValueError, AssertionError, OSError) as exc:
            if isinstance(exc, OSError) and not isinstance(exc, (FileNotFoundError, PermissionError)):
                raise
            raise KafkaReceiverConfigError(
                f"{self.name}: kafka-python refused the consumer's settings for {self._where()}: "
                f"{exc!r}"
            ) from exc
        except kafka.errors.KafkaError as exc:
            refusal = watch.refusal if watch.refusal is not None else exc
            if type(refusal).__name__ == "KafkaConfigurationError":
                raise KafkaReceiverConfigError(
                    f"{self.name}: kafka-python refused the consumer's settings for "
                    f"{self._where()}: {refusal!r}"
                ) from refusal
            if is_configuration_error(refusal):
                raise KafkaReceiverConfigError(
                    f"{self.name}: Kafka at {self._where()} refused the consumer: {refusal!r} "
                    "(check security.protocol, sasl.mechanism, sasl.username and sasl.password, "
                    "or the ssl.* settings)"
                ) from refusal
            raise KafkaReceiverError(
                f"{self.name}: cannot reach Kafka at {self._where()}: {exc}"
            ) from exc
        self._progress_at = time.monotonic()
        return consumer

    def _check_topics(self, kafka: ModuleType, consumer: Any) -> None:
        """Every topic exists. A missing one is looked for ``topic_wait_s`` (it may just have
        been created), then it is a configuration error, unless ``allow.auto.create.topics``
        is on (then the brokers may create it, and it is retried)."""
        # looked for a while on every check: a broker that just restarted may not list it yet
        deadline = time.monotonic() + self.topic_wait_s
        wait = threading.Event()
        while True:
            try:
                available = consumer.topics()
            except kafka.errors.KafkaError as exc:
                if is_configuration_error(exc):
                    raise KafkaReceiverConfigError(
                        f"{self.name}: Kafka at {self._where()} refused the metadata request: {exc!r}"
                    ) from exc
                raise KafkaReceiverError(
                    f"{self.name}: Kafka at {self._where()} does not answer: {exc}"
                ) from exc
            self._progress_at = time.monotonic()
            missing = [topic for topic in self.topics if topic not in available]
            if not missing:
                return
            if time.monotonic() >= deadline or self.isStopped():
                break
            wait.wait(0.25)
        where = (f"bootstrap servers {self.bootstrap_servers!r} (group {self.group_id!r}); "
                 "create them or fix the topic names")
        if self.kafka_params.get("allow_auto_create_topics"):
            raise KafkaReceiverError(f"{self.name}: Kafka topic(s) {missing} not found at {where}")
        raise KafkaReceiverConfigError(
            f"{self.name}: Kafka topic(s) {missing} not found at {where} (the receiver does not "
            "create topics: set allow.auto.create.topics=true in kafkaParams to let brokers "
            "that auto-create topics make them)"
        )

    # -- the poll loop ----------------------------------------------------------------------

    def _consume(self, kafka: ModuleType, consumer: Any, session: Session) -> None:
        last_activity = time.monotonic()
        while not self.isStopped():
            self._commit_pending(kafka, consumer, session)
            now = time.monotonic()
            timeout_ms = self.poll_timeout_ms
            if session.first_at is not None:
                left_ms = int((session.first_at + self.block_interval_s - now) * 1000)
                timeout_ms = max(0, min(timeout_ms, left_ms))
            # Under a rate limit a block holds about one block interval's worth, so that
            # the reliable store (which waits for the limit) never stalls for long.
            limit = self.current_rate_limit()
            block_max = self.max_block_records
            if limit is not None:
                block_max = max(1, min(block_max, int(limit * self.block_interval_s)))
            room = block_max - len(session.records)
            batch = (
                consumer.poll(timeout_ms=timeout_ms, max_records=max(1, room)) if room > 0 else {}
            )
            now = time.monotonic()
            if batch:
                last_activity = self._progress_at = now
                failure = self._take(kafka, consumer, batch, session)
                if session.first_at is None and session.offsets:
                    session.first_at = now
                if failure is not None:
                    self._flush(kafka, consumer, session)
                    raise failure
            elif not session.offsets and now - last_activity >= self.idle_check_interval_s:
                self._check_topics(kafka, consumer)
                last_activity = now
            if session.offsets and (
                len(session.records) >= block_max
                or now - (session.first_at or now) >= self.block_interval_s
            ):
                self._flush(kafka, consumer, session)
        if session.offsets:
            self._flush(
                kafka, consumer, session
            )  # graceful: what was polled is stored and committed

    def _take(
        self, kafka: ModuleType, consumer: Any, batch: dict[Any, list[Any]], session: Session
    ) -> KafkaReceiverError | None:
        decoder = self.decoder
        records = session.records
        offsets = session.offsets
        failure = None
        positions = self.resume_offsets
        for tp, messages in batch.items():
            key = (tp.topic, tp.partition)
            stored_below = positions.get(key, 0)
            if messages and messages[-1].offset < stored_below:
                # A consumer that started from the group's committed offsets (a restart, a
                # rebalance) behind what this receiver stored: go on from its own position.
                consumer.seek(tp, stored_below)
                continue
            for message in messages:
                if message.offset < stored_below:      # already stored
                    continue
                try:
                    record = decoder(message.key, message.value)
                except Exception as exc:  # noqa: BLE001 - a decoder failure is a bad record
                    stop = bad_record(self, kafka, message, exc, session)
                    if stop is not None:
                        offsets[key] = message.offset  # commit up to, not past, the bad record
                        failure = stop
                        break
                else:
                    records.append(record)
                offsets[key] = message.offset + 1
        return failure

    def _flush(self, kafka: ModuleType, consumer: Any, session: Session) -> None:
        if session.dead_letters:
            session.producer.flush(timeout=self.commit_timeout_s)
            for future in session.dead_letters:
                try:
                    future.get(timeout=self.commit_timeout_s)
                except Exception as exc:
                    raise KafkaReceiverError(
                        f"{self.name}: could not write to dead-letter topic {self.dead_letter_topic!r} "
                        f"at {self._where()}: {exc}"
                    ) from exc
            session.dead_letters.clear()
        offsets = dict(session.offsets)
        stored = bool(session.records)
        if stored:
            self._in_store = True
            try:
                self.store(session.records, {"kafka_offsets": offsets})  # returns once stored durably
            finally:
                self._in_store = False
                self._progress_at = time.monotonic()
        self.resume_from(offsets)  # stored (or only skipped bad records): never read again
        session.records = []
        session.offsets = {}
        session.first_at = None
        if self.commit_on_store or not stored:   # else the engine commits once the batch succeeded
            with self._commit_lock:
                self._queue_commit_locked(offsets)
            self._commit_pending(kafka, consumer, session)

    def _commit_pending(self, kafka: ModuleType, consumer: Any, session: Session) -> None:
        """Commit the pending offsets of the partitions this consumer is assigned. A commit that
        fails for ``commit_timeout_s`` is reported, and its offsets stay pending (retried a
        second later): nothing is received again, since the receiver reads on from its own
        positions, whatever the group's committed offsets say."""
        now = time.monotonic()
        if now < session.commit_retry_at:
            return
        pending = self._take_pending_commit()
        if not pending:
            return
        assigned = {(tp.topic, tp.partition) for tp in consumer.assignment()}
        ready = {key: offset for key, offset in pending.items() if key in assigned}
        held = {key: offset for key, offset in pending.items() if key not in assigned}
        if held:  # not ours now (joining, or moved to another member): kept, not committed here
            with self._commit_lock:
                self._queue_commit_locked(held)
        if not ready:
            return
        try:
            self._commit(kafka, consumer, ready)
        except KafkaReceiverError as exc:
            with self._commit_lock:
                self._queue_commit_locked(ready)
            session.commit_retry_at = time.monotonic() + 1.0
            if is_configuration_error(exc.__cause__):
                raise KafkaReceiverConfigError(str(exc)) from exc.__cause__
            self.reportError(str(exc), exc.__cause__)
        else:
            session.commit_retry_at = 0.0
            self._progress_at = time.monotonic()

    def _commit(
        self, kafka: ModuleType, consumer: Any, offsets: dict[tuple[str, int], int]
    ) -> None:
        structs = kafka.structs
        to_commit = {
            structs.TopicPartition(topic, partition): structs.OffsetAndMetadata(offset, "", -1)
            for (topic, partition), offset in offsets.items()
        }
        deadline = time.monotonic() + self.commit_timeout_s
        delay = 0.1
        while True:
            try:
                consumer.commit(
                    to_commit, timeout_ms=int(max(0.5, deadline - time.monotonic()) * 1000)
                )
                break
            except kafka.errors.KafkaError as exc:
                if not getattr(exc, "retriable", False) or time.monotonic() + delay > deadline:
                    raise KafkaReceiverError(
                        f"{self.name}: could not commit offsets {offsets} at {self._where()} "
                        f"within {self.commit_timeout_s:g} s: {exc!r}; they stay pending and are "
                        "committed once Kafka answers (the receiver reads on from what it stored, "
                        "so nothing is received twice)"
                    ) from exc
                time.sleep(delay)  # a retriable error (broker away): back off and commit again
                delay = min(delay * 2, 2.0)
        self._committed.update(offsets)
