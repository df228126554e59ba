"""A reliable Kafka receiver (the shape of Spark's ``KafkaUtils.createStream``), with kafka-python.

One :class:`KafkaReceiver` is one consumer, one member of the consumer group
``group_id``, subscribed to ``topics``. Its thread polls, decodes each record
into a ``(key, value)`` pair (UTF-8 by default), gathers records for up to a
block interval, and stores them with the reliable ``store(records,
metadata)``: the block's metadata carries ``{"kafka_offsets": {(topic,
partition): next_offset}}``. Only after ``store`` returned (the engine stored
the block durably) does it commit those offsets to Kafka; automatic commits
are off.

Delivery is at least once. A graceful stop stores and commits what was
polled, so a receiver started again with the same group continues exactly
where the last one stopped: no loss, no duplicates. After a crash (process
killed, commit refused because the group rebalanced, broker gone for longer
than ``commit_timeout_s`` between store and commit) the records of the last
stored-but-uncommitted block are received again.

When the brokers cannot be reached or a topic does not exist, the receiver
reports an ``error`` event naming the bootstrap servers and topics and
restarts with the supervisor's backoff, so it survives a broker restart.

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

import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

from dstream.receivers.receiver import Receiver

__all__ = ["BAD_RECORD_POLICIES", "KafkaReceiver", "KafkaReceiverError", "decode_utf8_pair"]

BAD_RECORD_POLICIES = ("fail", "skip", "dead_letter")

# Chosen by the receiver; kafka_params may not change them.
_RESERVED = {
    "bootstrap_servers": "pass bootstrap_servers as the argument",
    "group_id": "pass group_id as the argument",
    "enable_auto_commit": "the receiver commits offsets itself, after each block is stored",
    "key_deserializer": "use decoder=, which receives the raw key and value",
    "value_deserializer": "use decoder=, which receives the raw key and value",
}

Decoder = Callable[[bytes | None, bytes | None], Any]


class KafkaReceiverError(ConnectionError):
    """The Kafka source cannot be read: brokers unreachable, topic missing, commit impossible."""


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


def _import_kafka() -> ModuleType:
    # kafka-python 3.0 reads its protocol schemas with importlib.resources.read_text,
    # deprecated on Python 3.11/3.12: silence exactly those warnings for the import.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "read_text is deprecated", DeprecationWarning)
        warnings.filterwarnings("ignore", "open_text is deprecated", DeprecationWarning)
        import kafka
        import kafka.errors
        import kafka.structs
    return kafka


def _open_client(factory: Callable[..., Any], **config: Any) -> Any:
    """``factory(**config)`` (a KafkaConsumer or KafkaProducer), leaving nothing running on failure.

    kafka-python 3.0 starts a client's network I/O thread before it
    bootstraps; when the bootstrap fails (broker unreachable) the constructor
    raises and that thread runs on. The ``kafka_client`` setting (kafka-python's
    hook for making that network client) lets us keep hold of it and close it.
    """
    make = config.pop("kafka_client", None) or factory.DEFAULT_CONFIG["kafka_client"]
    created: list[Any] = []

    def kafka_client(*args: Any, **kwargs: Any) -> Any:
        client = make(*args, **kwargs)
        created.append(client)
        return client

    try:
        return factory(kafka_client=kafka_client, **config)
    except BaseException:
        for client in created:
            client.close()
        raise


class KafkaReceiver(Receiver):
    """Receive ``(key, value)`` records of ``topics`` as member of consumer group ``group_id``.

    - ``topics``: topic names (a dict ``{topic: threads}`` as Spark takes is
      accepted; the thread counts are ignored: one consumer per receiver,
      run more receivers for more parallelism).
    - ``kafka_params``: more kafka-python ``KafkaConsumer`` settings (e.g.
      ``session_timeout_ms``); the ones the receiver owns are refused.
    - ``decoder(key_bytes, value_bytes) -> record``: default UTF-8 pairs.
    - ``bad_record_policy``, ``dead_letter_topic``: see the module.
    - ``auto_offset_reset``: where a group without committed offsets starts.
    - ``block_interval_ms``, ``max_block_records``: a block is stored when
      its first record is this old or it has this many records.
    - ``idle_check_interval_s``: while no records come, check this often that
      the brokers answer and the topics exist.
    - ``commit_timeout_s``: how long a failing commit is retried.
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
        auto_offset_reset: str = "earliest",
        block_interval_ms: int = 200,
        max_block_records: int = 10_000,
        poll_timeout_ms: int = 100,
        idle_check_interval_s: float = 2.0,
        commit_timeout_s: float = 10.0,
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
        if auto_offset_reset not in ("earliest", "latest"):
            raise ValueError(
                f"auto_offset_reset must be 'earliest' or 'latest', got {auto_offset_reset!r}"
            )
        for name, value in (
            ("block_interval_ms", block_interval_ms),
            ("max_block_records", max_block_records),
            ("poll_timeout_ms", poll_timeout_ms),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        params = dict(kafka_params or {})
        for key, why in _RESERVED.items():
            if key in params and not (key == "enable_auto_commit" and params[key] is False):
                raise ValueError(f"kafka_params may not set {key!r}: {why}")
        params.pop("enable_auto_commit", None)
        if params:
            known = _import_kafka().KafkaConsumer.DEFAULT_CONFIG
            unknown = sorted(set(params) - set(known))
            if unknown:
                raise ValueError(
                    f"kafka_params has settings KafkaConsumer does not know: {unknown}"
                )
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.topics = sorted(set(names))
        self.kafka_params = params
        self.decoder: Decoder = decoder if decoder is not None else decode_utf8_pair
        self.bad_record_policy = bad_record_policy
        self.dead_letter_topic = dead_letter_topic
        self.auto_offset_reset = auto_offset_reset
        self.block_interval_s = block_interval_ms / 1000
        self.max_block_records = max_block_records
        self.poll_timeout_ms = poll_timeout_ms
        self.idle_check_interval_s = float(idle_check_interval_s)
        self.commit_timeout_s = float(commit_timeout_s)
        self._committed: dict[tuple[str, int], int] = {}
        self._resume: dict[tuple[str, int], int] = {}
        #: commit each block's offsets as soon as it is stored (standalone use); an engine that
        #: commits after its batches succeed sets this to False and calls ``request_commit``
        self.commit_on_store = True
        self._pending_commit: dict[tuple[str, int], int] = {}
        self._commit_lock = threading.Lock()
        self._consumer_live = False

    def request_commit(self, offsets: Mapping[tuple[str, int], int]) -> None:
        """Commit these offsets (``{(topic, partition): next_offset}``) to Kafka: the receiver's
        consumer does it on its next poll; once the receiver has stopped, a short-lived
        consumer of the same group does it now."""
        with self._commit_lock:
            for key, offset in offsets.items():
                self._pending_commit[key] = max(offset, self._pending_commit.get(key, 0))
            live = self._consumer_live
        if not live:
            self._commit_after_stop()

    def _take_pending_commit(self) -> dict[tuple[str, int], int]:
        with self._commit_lock:
            pending, self._pending_commit = self._pending_commit, {}
            return pending

    def _commit_after_stop(self) -> None:
        pending = self._take_pending_commit()
        if not pending:
            return
        kafka = _import_kafka()
        consumer = _open_client(kafka.KafkaConsumer, bootstrap_servers=self.bootstrap_servers,
                                group_id=self.group_id, enable_auto_commit=False,
                                client_id=f"dstream-{self.name}-commit")
        try:
            self._commit(kafka, consumer, pending)
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
        for key, offset in offsets.items():
            self._resume[key] = max(offset, self._resume.get(key, 0))

    @property
    def resume_offsets(self) -> dict[tuple[str, int], int]:
        return dict(self._resume)

    @property
    def committed_offsets(self) -> dict[tuple[str, int], int]:
        """The offsets this receiver committed last, ``{(topic, partition): next_offset}``."""
        return dict(self._committed)

    def _where(self) -> str:
        servers, topics, group = self.bootstrap_servers, self.topics, self.group_id
        return f"bootstrap servers {servers!r} (topics {topics}, group {group!r})"

    # -- lifecycle ----------------------------------------------------------------------

    def onStart(self) -> None:
        self.start_thread(self._run, name=f"{self.name}-kafka")

    def onStop(self) -> None:
        pass  # the thread sees isStopped() within poll_timeout_ms, stores, commits and closes

    def _run(self) -> None:
        kafka = _import_kafka()
        consumer = None
        session = _Session()
        try:
            consumer = self._connect(kafka)
            self._check_topics(kafka, consumer)
            consumer.subscribe(self.topics)
            with self._commit_lock:
                self._consumer_live = True
            self._consume(kafka, consumer, session)
        except Exception as exc:  # noqa: BLE001 - every failure restarts (or is reported when stopping)
            message = (
                str(exc)
                if isinstance(exc, KafkaReceiverError)
                else f"{self.name}: {exc!r} reading from {self._where()}"
            )
            error = exc.__cause__ if isinstance(exc, KafkaReceiverError) and exc.__cause__ else exc
            if self.isStopped():
                self.reportError(message, error)
            else:
                self.restart(message, error)
        finally:
            self._finish_commits(kafka, consumer)
            self._close(session.producer, consumer)

    def _finish_commits(self, kafka: ModuleType, consumer: Any) -> None:
        """Commit what was requested while this consumer lived; later requests commit alone."""
        with self._commit_lock:
            self._consumer_live = False
        pending = self._take_pending_commit()
        if pending and consumer is not None:
            try:
                self._commit(kafka, consumer, pending)
            except Exception as exc:  # noqa: BLE001 - kept for the next commit, reported
                self.request_commit(pending)
                self.reportError(f"{self.name}: committing offsets {pending} failed", exc)

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
            return _open_client(kafka.KafkaConsumer, **config)
        except kafka.errors.KafkaError as exc:
            raise KafkaReceiverError(
                f"{self.name}: cannot reach Kafka at {self._where()}: {exc}"
            ) from exc

    def _check_topics(self, kafka: ModuleType, consumer: Any) -> None:
        try:
            available = consumer.topics()
        except kafka.errors.KafkaError as exc:
            raise KafkaReceiverError(
                f"{self.name}: Kafka at {self._where()} does not answer: {exc}"
            ) from exc
        missing = [topic for topic in self.topics if topic not in available]
        if missing:
            raise KafkaReceiverError(
                f"{self.name}: Kafka topic(s) {missing} not found at bootstrap servers "
                f"{self.bootstrap_servers!r} (group {self.group_id!r}); create them or fix the topic names"
            )

    # -- the poll loop ----------------------------------------------------------------------

    def _consume(self, kafka: ModuleType, consumer: Any, session: _Session) -> None:
        last_activity = time.monotonic()
        while not self.isStopped():
            # a consumer commits as a member of its group: not before its first assignment
            # (a commit sent while it is still joining fails with UnknownMemberId)
            pending = self._take_pending_commit() if consumer.assignment() else {}
            if pending:
                self._commit(kafka, consumer, pending)
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
                last_activity = now
                if session.first_at is None:
                    session.first_at = now
                failure = self._take(kafka, batch, session)
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

    def _take(self, kafka: ModuleType, batch: dict, session: _Session) -> KafkaReceiverError | None:
        decoder = self.decoder
        records = session.records
        offsets = session.offsets
        failure = None
        for tp, messages in batch.items():
            key = (tp.topic, tp.partition)
            stored_below = self._resume.get(key, 0)
            for message in messages:
                if message.offset < stored_below:      # already stored before a crash
                    offsets[key] = message.offset + 1
                    continue
                try:
                    record = decoder(message.key, message.value)
                except Exception as exc:  # noqa: BLE001 - a decoder failure is a bad record
                    stop = self._bad_record(kafka, message, exc, session)
                    if stop is not None:
                        offsets[key] = message.offset  # commit up to, not past, the bad record
                        failure = stop
                        break
                else:
                    records.append(record)
                offsets[key] = message.offset + 1
        return failure

    def _bad_record(
        self, kafka: ModuleType, message: Any, exc: Exception, session: _Session
    ) -> KafkaReceiverError | None:
        where = f"{message.topic}[{message.partition}]@{message.offset}"
        details = {
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "error": repr(exc),
            "policy": self.bad_record_policy,
        }
        if self.bad_record_policy == "dead_letter":
            producer = session.producer_for(kafka, self)
            headers = [
                (
                    "dstream.source",
                    f"{message.topic}/{message.partition}/{message.offset}".encode(),
                ),
                ("dstream.error", repr(exc).encode("utf-8", "replace")),
            ]
            session.dead_letters.append(
                producer.send(
                    self.dead_letter_topic, key=message.key, value=message.value, headers=headers
                )
            )
            details["dead_letter_topic"] = self.dead_letter_topic
            self.report_bad_record(
                "undecodable",
                f"{self.name}: record {where} could not be decoded; "
                f"sent to dead-letter topic {self.dead_letter_topic!r}",
                **details,
            )
            return None
        if self.bad_record_policy == "skip":
            self.report_bad_record(
                "undecodable",
                f"{self.name}: record {where} could not be decoded; skipped",
                **details,
            )
            return None
        self.report_bad_record(
            "undecodable", f"{self.name}: record {where} could not be decoded", **details
        )
        failure = KafkaReceiverError(
            f"{self.name}: record {where} could not be decoded (bad_record_policy='fail': the receiver "
            f"stops before it; offsets stay committed up to it): {exc!r}"
        )
        failure.__cause__ = exc
        return failure

    def _flush(self, kafka: ModuleType, consumer: Any, session: _Session) -> None:
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
            self.store(session.records, {"kafka_offsets": offsets})  # returns once stored durably
        session.records = []
        session.offsets = {}
        session.first_at = None
        if self.commit_on_store or not stored:   # else the engine commits once the batch succeeded
            self._commit(kafka, consumer, offsets)

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
                        f"{self.name}: stored a block but could not commit offsets {offsets} at "
                        f"{self._where()}; its records will be received again: {exc!r}"
                    ) from exc
                time.sleep(delay)  # a retriable error (broker away): back off and commit again
                delay = min(delay * 2, 2.0)
        self._committed.update(offsets)


class _Session:
    """What one consumer session of the receiver holds between polls."""

    def __init__(self) -> None:
        self.records: list = []
        self.offsets: dict[tuple[str, int], int] = {}
        self.first_at: float | None = None
        self.producer: Any = None
        self.dead_letters: list = []

    def producer_for(self, kafka: ModuleType, receiver: KafkaReceiver) -> Any:
        if self.producer is None:
            try:
                self.producer = _open_client(
                    kafka.KafkaProducer,
                    bootstrap_servers=receiver.bootstrap_servers,
                    client_id=f"dstream-{receiver.name}-dead-letters",
                )
            except kafka.errors.KafkaError as exc:
                raise KafkaReceiverError(
                    f"{receiver.name}: cannot open a producer for dead-letter topic "
                    f"{receiver.dead_letter_topic!r} at {receiver._where()}: {exc}"
                ) from exc
        return self.producer
