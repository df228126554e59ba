"""Kafka input streams (PySpark has none for DStreams since Spark 3.0; this follows the shape
of Spark's Scala ``KafkaUtils``), read with kafka-python.

>>> from dstream import Context, StreamingContext, KafkaUtils
>>> with Context("local") as ctx:
...     ssc = StreamingContext(ctx, 1)
...     KafkaUtils.createStream(ssc, "127.0.0.1:9092", "wordcount", {"lines": 1}).id
'kafkaStream-0'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from dstream.receivers import KafkaReceiver

from ..storagelevel import StorageLevel
from .receiver_input import DEFAULT_RECEIVER_LEVEL, ReceiverInputDStream

if TYPE_CHECKING:
    from .context import StreamingContext
    from .dstream import DStream

__all__ = ["KafkaUtils", "utf8_decoder"]


def utf8_decoder(data: bytes | None) -> str | None:
    """PySpark's default decoder: UTF-8 text, None stays None."""
    return None if data is None else data.decode("utf-8")


class KafkaUtils:
    """Kafka input streams."""

    @staticmethod
    def createStream(ssc: StreamingContext, bootstrap_servers: str | list[str], groupId: str,
                     topics: Iterable[str] | Mapping[str, int] | str,
                     kafkaParams: Mapping[str, Any] | None = None,
                     storageLevel: StorageLevel = DEFAULT_RECEIVER_LEVEL,
                     keyDecoder: Callable[[bytes | None], Any] = utf8_decoder,
                     valueDecoder: Callable[[bytes | None], Any] = utf8_decoder,
                     badRecordPolicy: str = "fail", deadLetterTopic: str | None = None,
                     autoOffsetReset: str = "earliest") -> DStream:
        """A receiver-based stream of ``(key, value)`` records of ``topics``, read by one member
        of consumer group ``groupId``. Offsets are committed only once a block is stored (and
        written ahead to the log when the write-ahead log is on). Records the decoders reject
        follow ``badRecordPolicy``: ``fail`` (stall and report), ``skip`` (count and report)
        or ``dead_letter`` (produce the raw record to ``deadLetterTopic``)."""
        def decoder(key: bytes | None, value: bytes | None) -> tuple[Any, Any]:
            return keyDecoder(key), valueDecoder(value)

        receiver = KafkaReceiver(
            bootstrap_servers, groupId, topics, kafkaParams, storageLevel,
            decoder=None if keyDecoder is utf8_decoder and valueDecoder is utf8_decoder else decoder,
            bad_record_policy=badRecordPolicy, dead_letter_topic=deadLetterTopic,
            auto_offset_reset=autoOffsetReset,
            block_interval_ms=max(1, int(ssc.sparkContext._conf.getSeconds(
                "dstream.streaming.blockInterval", 0.2) * 1000)))
        return ReceiverInputDStream(ssc, receiver, "kafkaStream")
