"""Records the Kafka receiver's decoder rejects (the ``bad_record_policy``), and what one
consumer session of the receiver holds between polls (records, offsets, the dead-letter
producer).

>>> session = Session()
>>> session.records, session.offsets, session.producer
([], {}, None)
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Protocol

from dstream.receivers.kafka_client import KafkaReceiverError, open_client

__all__ = ["Session", "bad_record"]


class KafkaReceiver(Protocol):
    """What the bad-record policy reads of the Kafka receiver (``kafka.KafkaReceiver``, which
    builds on this module)."""

    @property
    def name(self) -> str: ...
    @property
    def bootstrap_servers(self) -> str | list[str]: ...
    @property
    def bad_record_policy(self) -> str: ...
    @property
    def dead_letter_topic(self) -> str | None: ...

    def report_bad_record(self, reason: str, message: str, **details: Any) -> None: ...
    def _where(self) -> str: ...


def bad_record(
    receiver: KafkaReceiver, kafka: ModuleType, message: Any, exc: Exception, session: Session
) -> KafkaReceiverError | None:
    """Count and report an undecodable record and follow the receiver's ``bad_record_policy``:
    None to go on (skipped, or produced to the dead-letter topic), or the error that stops the
    receiver before the record (``fail``)."""
    where = f"{message.topic}[{message.partition}]@{message.offset}"
    details = {
        "topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "error": repr(exc),
        "policy": receiver.bad_record_policy,
    }
    if receiver.bad_record_policy == "dead_letter":
        producer = session.producer_for(kafka, receiver)
        headers = [
            (
                "dstream.source",
                f"{message.topic}/{message.partition}/{message.offset}".encode(),
            ),
            ("dstream.error", repr(exc).encode("utf-8", "replace")),
        ]
        session.dead_letters.append(
            producer.send(
                receiver.dead_letter_topic, key=message.key, value=message.value, headers=headers
            )
        )
        details["dead_letter_topic"] = receiver.dead_letter_topic
        receiver.report_bad_record(
            "undecodable",
            f"{receiver.name}: record {where} could not be decoded; "
            f"sent to dead-letter topic {receiver.dead_letter_topic!r}",
            **details,
        )
        return None
    if receiver.bad_record_policy == "skip":
        receiver.report_bad_record(
            "undecodable",
            f"{receiver.name}: record {where} could not be decoded; skipped",
            **details,
        )
        return None
    receiver.report_bad_record(
        "undecodable", f"{receiver.name}: record {where} could not be decoded", **details
    )
    failure = KafkaReceiverError(
        f"{receiver.name}: record {where} could not be decoded (bad_record_policy='fail': the receiver "
        f"stops before it; offsets stay committed up to it): {exc!r}"
    )
    failure.__cause__ = exc
    return failure


class Session:
    """What one consumer session of the receiver holds between polls."""

    def __init__(self) -> None:
        self.records: list[Any] = []
        self.offsets: dict[tuple[str, int], int] = {}
        self.first_at: float | None = None
        self.producer: Any = None
        self.dead_letters: list[Any] = []
        self.commit_retry_at = 0.0

    def producer_for(self, kafka: ModuleType, receiver: KafkaReceiver) -> Any:
        if self.producer is None:
            try:
                self.producer = open_client(
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
