"""Kafka input streams (PySpark has none for DStreams since Spark 3.0; this follows the shape
of Spark's Scala ``KafkaUtils``), read with kafka-python.

>>> from dstream import Context, StreamingContext, KafkaUtils
>>> with Context("local") as ctx:
...     ssc = StreamingContext(ctx, 1)
...     KafkaUtils.createStream(ssc, "127.0.0.1:9092", "wordcount", {"lines": 1}).id
'kafkaStream-0'
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from dstream.receivers import KafkaReceiver
from dstream.receivers.kafka_params import bootstrap_from_params, consumer_config, looks_like_zookeeper

from ..kafka_rdd import Broker, KafkaMessageAndMetadata, KafkaRDD, OffsetRange, TopicAndPartition
from ..storagelevel import StorageLevel
from .inputs.kafka_direct import DirectKafkaInputDStream
from .inputs.receiver_streams import DEFAULT_RECEIVER_LEVEL, ReceiverInputDStream

if TYPE_CHECKING:
    from ..rdd import RDD
    from .context import StreamingContext
    from .dstream import DStream

__all__ = ["KafkaUtils", "utf8_decoder", "OffsetRange", "TopicAndPartition", "Broker",
           "COMMIT_TIMEOUT_CONF", "STALL_TIMEOUT_CONF"]

log = logging.getLogger(__name__)


def utf8_decoder(data: bytes | None) -> str | None:
    """PySpark's default decoder: UTF-8 text, None stays None."""
    return None if data is None else data.decode("utf-8")


class KafkaUtils:
    """Kafka input streams."""

    @staticmethod
    def createStream(ssc: StreamingContext, zkQuorum: str | list[str], groupId: str,
                     topics: Iterable[str] | Mapping[str, int] | str,
                     kafkaParams: Mapping[str, Any] | None = None,
                     storageLevel: StorageLevel = DEFAULT_RECEIVER_LEVEL,
                     keyDecoder: Callable[[bytes | None], Any] = utf8_decoder,
                     valueDecoder: Callable[[bytes | None], Any] = utf8_decoder,
                     badRecordPolicy: str = "fail", deadLetterTopic: str | None = None,
                     autoOffsetReset: str | None = None) -> DStream:
        """A receiver-based stream of ``(key, value)`` records of ``topics``, read by one member
        of consumer group ``groupId``.

        - ``zkQuorum``: the brokers (``"host:9092,host2:9092"``). PySpark's first argument
          was a ZooKeeper quorum; one given here (port 2181, a ``/chroot``, or
          ``kafkaParams["zookeeper.connect"]``) is refused unless ``kafkaParams`` names the
          brokers (``metadata.broker.list`` or ``bootstrap.servers``), which are then used.
        - ``kafkaParams``: Kafka's dotted names with string values, as PySpark users wrote
          them, or kafka-python's names; an unknown key or a bad value raises ``ValueError``
          here, naming it. ZooKeeper settings are accepted and logged once as unused.
        - a new group starts at the latest offset (Spark's ``largest``) unless
          ``auto.offset.reset`` or ``autoOffsetReset`` says ``smallest``/``earliest``
          (both given: they must agree).

        Offsets are committed only once a block is stored (and written ahead to the log when
        the write-ahead log is on), and once its batch succeeded. Records the decoders reject
        follow ``badRecordPolicy``: ``fail`` (stall and report), ``skip`` (count and report)
        or ``dead_letter`` (produce the raw record to ``deadLetterTopic``). A configuration
        that can never work (authentication refused, a missing topic) stops the context:
        ``awaitTermination`` raises it. Settings (conf): ``dstream.streaming.kafka.receiver.
        commitTimeout`` (10s), ``dstream.streaming.kafka.receiver.stallTimeout`` (30s).

        A word count over a topic that holds six words (``brokers`` is ``"host:port"`` of a
        running Kafka, ``topic`` one of its topics); the manual clock runs the batch once the
        receiver has stored them:

        >>> from kafka import KafkaProducer
        >>> producer = KafkaProducer(bootstrap_servers=brokers)
        >>> for word in "to be or not to be".split():
        ...     _ = producer.send(topic, word.encode())
        >>> producer.flush(); producer.close()
        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import advance_batch, collect_batches, wait_for_records
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     stream = KafkaUtils.createStream(ssc, brokers, "wordcount", {topic: 1},
        ...                                      {"auto.offset.reset": "smallest"})
        ...     counts = collect_batches(stream.map(lambda kv: (kv[1], 1)).reduceByKey(lambda a, b: a + b))
        ...     ssc.start()
        ...     wait_for_records(ssc, 6)
        ...     _ = advance_batch(ssc)
        ...     ssc.stop(stopSparkContext=False)
        >>> sorted(counts[0])
        [('be', 2), ('not', 1), ('or', 1), ('to', 2)]

        A ZooKeeper address, as the Kafka 0.8 API took, fails at once:

        >>> with Context("local") as ctx:
        ...     KafkaUtils.createStream(StreamingContext(ctx, 1), "localhost:2181", "g", ["t"])
        Traceback (most recent call last):
        ...
        ValueError: KafkaUtils.createStream: 'localhost:2181' looks like a ZooKeeper address (the Kafka 0.8 API's zkQuorum); Kafka's consumers talk to the brokers: pass them instead (e.g. 'localhost:9092'), or name them in kafkaParams['metadata.broker.list']
        """
        def decoder(key: bytes | None, value: bytes | None) -> tuple[Any, Any]:
            return keyDecoder(key), valueDecoder(value)

        brokers = _brokers(zkQuorum, kafkaParams)
        params = {k: v for k, v in (kafkaParams or {}).items()
                  if k not in ("metadata.broker.list", "bootstrap.servers", "bootstrap_servers")}
        conf = ssc.sparkContext._conf
        receiver = KafkaReceiver(
            brokers, groupId, topics, params, storageLevel,
            decoder=None if keyDecoder is utf8_decoder and valueDecoder is utf8_decoder else decoder,
            bad_record_policy=badRecordPolicy, dead_letter_topic=deadLetterTopic,
            auto_offset_reset=autoOffsetReset,
            block_interval_ms=max(1, int(conf.getSeconds("dstream.streaming.blockInterval", 0.2) * 1000)),
            commit_timeout_s=conf.getSeconds(COMMIT_TIMEOUT_CONF, 10.0),
            stall_timeout_s=conf.getSeconds(STALL_TIMEOUT_CONF, 30.0))
        return ReceiverInputDStream(ssc, receiver, "kafkaStream")

    @staticmethod
    def createDirectStream(ssc: StreamingContext, topics: Iterable[str] | str,
                           kafkaParams: Mapping[str, Any],
                           fromOffsets: Mapping[TopicAndPartition, int] | None = None,
                           keyDecoder: Callable[[bytes | None], Any] = utf8_decoder,
                           valueDecoder: Callable[[bytes | None], Any] = utf8_decoder,
                           messageHandler: Callable[[KafkaMessageAndMetadata], Any] | None = None
                           ) -> DStream:
        """PySpark 2's direct stream: no receiver, no write-ahead log; each batch's RDD has one
        partition per topic-partition with data, read by its task where it runs, and
        ``rdd.offsetRanges()`` gives the ranges. Elements are ``(key, value)`` pairs, or what
        ``messageHandler`` returns for a ``KafkaMessageAndMetadata``. ``kafkaParams`` names the
        brokers (``metadata.broker.list`` or ``bootstrap.servers``) and may give ``group.id``
        (offsets are committed to it after each batch) and ``auto.offset.reset``. Rate limits,
        recovery and errors: ``dstream.streaming.inputs.kafka_direct``.

        The first batch reads what the topic holds (``brokers`` is ``"host:port"`` of a running
        Kafka, ``topic`` one of its topics, of one partition), and says which offsets it read:

        >>> from kafka import KafkaProducer
        >>> producer = KafkaProducer(bootstrap_servers=brokers)
        >>> for word in "to be or not to be".split():
        ...     _ = producer.send(topic, word.encode())
        >>> producer.flush(); producer.close()
        >>> from dstream import Context, StreamingContext, TopicAndPartition
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     stream = KafkaUtils.createDirectStream(
        ...         ssc, [topic], {"metadata.broker.list": brokers, "auto.offset.reset": "smallest"})
        ...     ranges = []
        ...     stream.foreachRDD(lambda rdd: ranges.extend(rdd.offsetRanges()))
        ...     batches = run_batches(ssc, stream.map(lambda kv: kv[1]), 1)
        >>> batches
        [['to', 'be', 'or', 'not', 'to', 'be']]
        >>> [(r.partition, r.fromOffset, r.untilOffset) for r in ranges]
        [(0, 0, 6)]

        ``fromOffsets`` starts each partition where it says:

        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     stream = KafkaUtils.createDirectStream(ssc, [topic], {"metadata.broker.list": brokers},
        ...                                            fromOffsets={TopicAndPartition(topic, 0): 4})
        ...     run_batches(ssc, stream.map(lambda kv: kv[1]), 1)
        [['to', 'be']]
        """
        return DirectKafkaInputDStream(ssc, topics, kafkaParams, fromOffsets, keyDecoder,
                                       valueDecoder, messageHandler)

    @staticmethod
    def createRDD(sc: Any, kafkaParams: Mapping[str, Any], offsetRanges: list[OffsetRange],
                  leaders: Mapping[TopicAndPartition, Broker] | None = None,
                  keyDecoder: Callable[[bytes | None], Any] = utf8_decoder,
                  valueDecoder: Callable[[bytes | None], Any] = utf8_decoder,
                  messageHandler: Callable[[KafkaMessageAndMetadata], Any] | None = None) -> RDD:
        """An RDD of the given offset ranges (PySpark 2's ``createRDD``), one partition per
        range, each read by its task. ``leaders`` is accepted and unused: the client finds
        the leaders itself.

        Offsets 2 to 5 of a topic that holds six words (``brokers`` is ``"host:port"`` of a
        running Kafka, ``topic`` one of its topics):

        >>> from kafka import KafkaProducer
        >>> producer = KafkaProducer(bootstrap_servers=brokers)
        >>> for word in "to be or not to be".split():
        ...     _ = producer.send(topic, word.encode())
        >>> producer.flush(); producer.close()
        >>> from dstream import Context, OffsetRange
        >>> with Context("local") as ctx:
        ...     rdd = KafkaUtils.createRDD(ctx, {"metadata.broker.list": brokers},
        ...                                [OffsetRange(topic, 0, 2, 5)])
        ...     rdd.values().collect(), rdd.getNumPartitions()
        (['or', 'not', 'to'], 1)
        """
        if not isinstance(offsetRanges, (list, tuple)):
            raise TypeError(f"createRDD: offsetRanges must be a list of OffsetRange, got {offsetRanges!r}")
        config = consumer_config(kafkaParams)
        if not config.get("bootstrap_servers"):
            raise ValueError("createRDD: kafkaParams names no broker: set 'metadata.broker.list' "
                             "or 'bootstrap.servers' (\"host:9092,...\")")
        for name in ("group_id", "auto_offset_reset", "enable_auto_commit", "auto_commit_interval_ms",
                     "key_deserializer", "value_deserializer"):
            config.pop(name, None)
        return KafkaRDD(sc, config, list(offsetRanges), keyDecoder, valueDecoder, messageHandler)

#: how long one offset commit is retried before the failure is reported (it is retried later)
COMMIT_TIMEOUT_CONF = "dstream.streaming.kafka.receiver.commitTimeout"
#: no records and no answer from the brokers this long is reported as a stall (0: never)
STALL_TIMEOUT_CONF = "dstream.streaming.kafka.receiver.stallTimeout"


def _brokers(address: str | list[str], params: Mapping[str, Any] | None) -> str | list[str]:
    """The brokers to bootstrap from: ``address``, unless it is a ZooKeeper quorum, then the
    brokers ``params`` name; brokers given both ways must be the same."""
    named = bootstrap_from_params(params)
    if looks_like_zookeeper(address, params):
        if named is None:
            raise ValueError(
                f"KafkaUtils.createStream: {address!r} looks like a ZooKeeper address (the Kafka "
                "0.8 API's zkQuorum); Kafka's consumers talk to the brokers: pass them instead "
                "(e.g. 'localhost:9092'), or name them in kafkaParams['metadata.broker.list']")
        log.warning("KafkaUtils.createStream: %r is a ZooKeeper address, not used; reading "
                    "from the brokers kafkaParams names: %r", address, named)
        return named
    if named is not None:
        given = sorted([named] if isinstance(named, str) else named)
        wanted = sorted(a.strip() for a in (address.split(",") if isinstance(address, str) else address))
        if given != wanted:
            raise ValueError(
                f"KafkaUtils.createStream: the brokers {address!r} and those kafkaParams names "
                f"({named!r}) differ: give them once")
    return address
