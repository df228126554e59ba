"""The direct Kafka stream: the driver plans offset ranges per batch, tasks read them.

At every batch time the driver decides, per topic-partition, the range ``[from, until)`` the
batch reads: ``from`` is the previous batch's ``until``; ``until`` is the partition's latest
offset (the last stable offset under ``read_committed``), capped by the rate limits:

- ``dstream.streaming.kafka.maxRatePerPartition`` (records/s per partition, 0 = none) times
  the batch duration, every batch, the first one after a start or a restart included;
- with ``dstream.streaming.backpressure.enabled``, the PID estimate of the sustainable rate,
  shared among partitions in proportion to their lag. Until the first estimate (after a start
  or a restart) the rate is ``dstream.streaming.backpressure.initialRate`` (records/s for the
  stream) or, when that is unset, ``DEFAULT_INITIAL_RATE_PER_PARTITION`` records/s per
  partition: never the whole backlog;
- at least ``dstream.streaming.kafka.minRatePerPartition`` records/s (default 1) per partition
  that has data, so a lagging partition always moves.

Where a partition starts, first found first: ``fromOffsets``, the checkpoint, the offset the
consumer group (``group.id``) committed, then ``auto.offset.reset`` (``largest``/``latest``
by default, as PySpark's direct stream; ``smallest``/``earliest``). Partitions added to a
topic while the stream runs start at their beginning (the driver looks for them every 5 s, or
every ``metadata.max.age.ms`` when that is shorter). A start offset that fell out of
retention follows ``auto.offset.reset`` (``none``: the batch fails) and the skipped offsets
are logged and reported in the batch's input metadata.

The planned ranges are written to the checkpoint store before the batch runs, and are part
of the metadata checkpoint, so recovery replays an unfinished batch's ranges exactly: Kafka's
log is the replay source, there is no write-ahead log. After a batch's outputs succeed (and
its checkpoint is written), its ``until`` offsets are committed to the consumer group, for
lag monitoring. A broker that cannot be reached gives empty batches (logged) until it is
back, then the backlog is read under the same limits; authentication and authorization
errors and a topic that does not exist fail at once.

>>> from dstream import Conf, Context, StreamingContext, KafkaUtils
>>> with Context("local", conf=Conf().set("dstream.streaming.kafka.maxRatePerPartition", "100")) as ctx:
...     ssc = StreamingContext(ctx, 2)
...     stream = KafkaUtils.createDirectStream(ssc, ["events"], {"metadata.broker.list": "127.0.0.1:9"})
...     stream.id, stream.max_records_per_partition(lag=10_000, total_lag=10_000, partitions=1)
('directKafkaStream-0', 200)
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from dstream.receivers.kafka_client import import_kafka
from dstream.receivers.kafka_params import consumer_config

from ...kafka_rdd import KafkaMessageAndMetadata, KafkaRDD, OffsetRange, TopicAndPartition, utf8_decoder
from ...rdd import RDD
from .base import InputDStream
from ..listener import BatchInfo, StreamingListener
from ..rate import PIDRateEstimator
from ..sinks.batch_offsets import BatchOffsets

if TYPE_CHECKING:
    from ...accumulators import Accumulator
    from ...conf import Conf
    from ..context import StreamingContext

__all__ = ["DirectKafkaInputDStream", "DEFAULT_INITIAL_RATE_PER_PARTITION", "KafkaConfigurationError"]

log = logging.getLogger(__name__)

#: records/s per partition of the first batches under backpressure when no initialRate is set
DEFAULT_INITIAL_RATE_PER_PARTITION = 1000.0
_METADATA_REFRESH_S = 5.0
_RESETS = {"earliest": "earliest", "smallest": "earliest", "latest": "latest", "largest": "latest",
           "none": "none"}


class KafkaConfigurationError(ValueError):
    """A setting, topic or credential that retrying cannot fix."""


def _is_fatal(error: BaseException) -> bool:
    from kafka import errors

    fatal = (errors.AuthorizationError, errors.SaslAuthenticationFailedError,
             errors.UnsupportedVersionError, errors.InvalidTopicError)
    return isinstance(error, fatal) or isinstance(error, KafkaConfigurationError)


class _RateController(StreamingListener):
    """Backpressure for one direct stream: a PID estimate of its sustainable rate."""

    def __init__(self, stream: DirectKafkaInputDStream, batch_ms: int, min_rate: float) -> None:
        self._stream = stream
        self._pid = PIDRateEstimator(batch_ms, min_rate=min_rate)

    def onBatchCompleted(self, batchCompleted: Any) -> None:
        info: BatchInfo = batchCompleted.batchInfo()
        records = info.input_records.get(self._stream.stream_id, 0)
        if info.processing_end_time_ms is None or info.processing_start_time_ms is None:
            return
        processing, scheduling = info.processingDelay(), info.schedulingDelay()
        assert processing is not None and scheduling is not None  # both times are set
        rate = self._pid.compute(info.processing_end_time_ms, records, processing, scheduling)
        if rate is not None:
            self._stream.estimated_rate = rate


class DirectKafkaInputDStream(InputDStream[Any]):
    """Offset ranges planned by the driver each batch, read by the batch's tasks (module doc)."""

    #: the whole context: the stream commits its offsets with the context's checkpoints
    _ssc: StreamingContext

    def __init__(self, ssc: StreamingContext, topics: Iterable[str] | str,
                 kafka_params: Mapping[str, Any],
                 from_offsets: Mapping[TopicAndPartition, int] | None = None,
                 key_decoder: Callable[[bytes | None], Any] = utf8_decoder,
                 value_decoder: Callable[[bytes | None], Any] = utf8_decoder,
                 message_handler: Callable[[KafkaMessageAndMetadata], Any] | None = None) -> None:
        self.topics = _check_topics(topics)
        if not isinstance(kafka_params, Mapping):
            raise TypeError(f"createDirectStream: kafkaParams must be a dict, got {type(kafka_params).__name__}")
        config = consumer_config(kafka_params)
        if not config.get("bootstrap_servers"):
            raise ValueError("createDirectStream: kafkaParams names no broker: set "
                             "'metadata.broker.list' or 'bootstrap.servers' (\"host:9092,...\")")
        reset = str(config.pop("auto_offset_reset", "latest")).lower()
        if reset not in _RESETS:
            raise ValueError(f"createDirectStream: auto.offset.reset must be smallest, largest, "
                             f"earliest, latest or none, got {reset!r}")
        self.auto_offset_reset = _RESETS[reset]
        self.group_id: str | None = config.pop("group_id", None)
        for name in ("enable_auto_commit", "auto_commit_interval_ms", "key_deserializer",
                     "value_deserializer"):
            config.pop(name, None)
        self.from_offsets = _check_from_offsets(from_offsets)
        for name, fn in (("keyDecoder", key_decoder), ("valueDecoder", value_decoder)):
            if not callable(fn):
                raise TypeError(f"createDirectStream: {name} must be callable, got {fn!r}")
        if message_handler is not None and not callable(message_handler):
            raise TypeError(f"createDirectStream: messageHandler must be callable, got {message_handler!r}")
        super().__init__(ssc, "directKafkaStream")
        self.task_config = config
        self.decoders = (key_decoder, value_decoder, message_handler)
        conf = ssc.sparkContext._conf
        self.max_rate_per_partition = _non_negative(conf, "dstream.streaming.kafka.maxRatePerPartition", 0.0)
        self.min_rate_per_partition = _non_negative(conf, "dstream.streaming.kafka.minRatePerPartition", 1.0)
        self.backpressure = conf.getBoolean("dstream.streaming.backpressure.enabled", False)
        self.initial_rate = _non_negative(conf, "dstream.streaming.backpressure.initialRate", 0.0)
        self.pid_min_rate = conf.getFloat("dstream.streaming.backpressure.pid.minRate", 100.0)
        #: the rate (records/s, whole stream) backpressure allows; None until the first estimate
        self.estimated_rate: float | None = None
        #: ranges of every remembered batch; a recovered batch reads the same ranges again
        self.batch_ranges: dict[int, list[OffsetRange]] = {}
        #: where the next batch starts, per partition
        self.next_offsets: dict[TopicAndPartition, int] = {}
        #: offsets skipped because they fell out of retention, in total
        self.skipped_offsets = 0
        self._skipped_by_batch: dict[int, int] = {}
        self._last_planned_ms: int | None = None
        self._consumer: Any = None
        self._consumer_lock = threading.RLock()
        self._stopped = False
        self._metadata_at = 0.0
        self._started_partitions = False
        self._restored = False
        #: ``(range, host, pid)`` of each range a task read (``KafkaRDD``)
        self.reads: Accumulator[list[tuple[dict[str, Any], str, int]]] = ssc.sparkContext.accumulator([])

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        ssc = self._ssc
        ssc._scheduler.before_generate.append(self._before_generate)
        ssc._scheduler.after_batch.append(lambda jobset: self._log_reads(jobset.time_ms))
        if self.backpressure:
            ssc._bus.add(_RateController(self, ssc.batch_duration_ms, self.pid_min_rate))
        try:
            with self._consumer_lock:
                self._initial_offsets()
        except Exception as e:
            self._drop_consumer()
            if _is_fatal(e):
                raise
            log.warning("%s: Kafka at %s is not reachable yet (%s); batches stay empty until it is",
                        self.id, self.task_config["bootstrap_servers"], e)

    def stop(self) -> None:
        with self._consumer_lock:
            self._stopped = True
        self._drop_consumer()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its driver consumer (a runtime object: sockets and a thread); a
        copy opens its own when it plans. (For a graph saved whole, e.g. PySpark-style recovery.)

        >>> import pickle
        >>> from dstream import Context, StreamingContext, KafkaUtils
        >>> with Context("local") as ctx:
        ...     s = KafkaUtils.createDirectStream(StreamingContext(ctx, 1), "t", {"bootstrap.servers": "h:9"})
        ...     s._consumer = object()
        ...     s.__getstate__()["_consumer"] is None
        True
        """
        state = self.__dict__.copy()
        state["_consumer"] = None
        return state

    def _driver_consumer(self) -> Any:
        if self._consumer is None:
            _check_reachable(self.task_config["bootstrap_servers"])
            settings = dict(self.task_config)
            settings.update(group_id=self.group_id, enable_auto_commit=False,
                            allow_auto_create_topics=False)
            self._consumer = import_kafka().KafkaConsumer(**settings)
        return self._consumer

    # ------------------------------------------------------------------ planning
    def _topic_partitions(self) -> list[TopicAndPartition]:
        consumer = self._driver_consumer()
        refresh_s = self.task_config.get("metadata_max_age_ms", _METADATA_REFRESH_S * 1000) / 1000
        if time.monotonic() - self._metadata_at > min(refresh_s, _METADATA_REFRESH_S):
            consumer.topics()            # refreshes the metadata: new partitions appear
            self._metadata_at = time.monotonic()
        found: list[TopicAndPartition] = []
        for topic in self.topics:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                raise KafkaConfigurationError(
                    f"{self.id}: topic {topic!r} does not exist on {self.task_config['bootstrap_servers']}: "
                    "create it (the direct stream never creates topics) or fix the topic name")
            found.extend(TopicAndPartition(topic, p) for p in sorted(partitions))
        return found

    def _initial_offsets(self) -> None:
        """Start offsets of partitions with none yet (module doc for the order of sources)."""
        from kafka import TopicPartition

        parts = self._topic_partitions()
        known = self.next_offsets.copy()
        new = [tp for tp in parts if tp not in known]
        if not new:
            return
        first_time = not self._started_partitions
        tps = [TopicPartition(tp.topic, tp.partition) for tp in new]
        consumer = self._consumer
        earliest = consumer.beginning_offsets(tps)
        latest = consumer.end_offsets(tps)
        for tp, ktp in zip(new, tps):
            if tp in self.from_offsets:
                offset = self.from_offsets[tp]
            elif first_time:
                committed = consumer.committed(ktp) if self.group_id else None
                if committed is not None:
                    offset = committed
                elif self.auto_offset_reset == "earliest":
                    offset = earliest[ktp]
                else:
                    offset = latest[ktp]
            else:
                offset = earliest[ktp]      # a partition added while running: from its start
                log.info("%s: new partition %s-%d, read from offset %d", self.id, tp.topic,
                         tp.partition, offset)
            self.next_offsets[tp] = offset
        self._started_partitions = True

    def max_records_per_partition(self, lag: int, total_lag: int, partitions: int) -> int | None:
        """The most records one partition with ``lag`` may give a batch, or None for no limit.

        >>> from dstream import Conf, Context, StreamingContext, KafkaUtils
        >>> with Context("local", conf=Conf().set("dstream.streaming.backpressure.enabled", "true")) as ctx:
        ...     s = KafkaUtils.createDirectStream(StreamingContext(ctx, 1), "t", {"bootstrap.servers": "h:9"})
        ...     s.max_records_per_partition(10**6, 3 * 10**6, 3)   # first batch: the default initial rate
        1000
        """
        seconds = self._ssc.batch_duration_ms / 1000
        rates = []
        if self.max_rate_per_partition > 0:
            rates.append(self.max_rate_per_partition)
        if self.backpressure:
            if self.estimated_rate is not None:
                share = lag / total_lag if total_lag > 0 else 1 / max(1, partitions)
                rates.append(max(self.estimated_rate * share, self.min_rate_per_partition))
            elif self.initial_rate > 0:
                share = lag / total_lag if total_lag > 0 else 1 / max(1, partitions)
                rates.append(max(self.initial_rate * share, self.min_rate_per_partition))
            else:
                rates.append(DEFAULT_INITIAL_RATE_PER_PARTITION)
        if not rates:
            return None
        rate = max(min(rates), self.min_rate_per_partition)
        return max(1, int(rate * seconds))

    def plan(self, time_ms: int) -> list[OffsetRange]:
        """The ranges of batch ``time_ms``: the saved ones when the batch was planned before
        (recovery), else new ranges from the partitions' latest offsets under the limits."""
        saved = self.batch_ranges.get(time_ms)
        if saved is not None:
            return saved
        if self._last_planned_ms is not None and time_ms <= self._last_planned_ms:
            return []
        try:
            with self._consumer_lock:
                ranges, skipped = self._plan_new()
        except Exception as e:
            if _is_fatal(e):
                raise
            log.warning("%s: batch %d reads nothing: Kafka at %s failed (%s: %s); retrying next batch",
                        self.id, time_ms, self.task_config["bootstrap_servers"], type(e).__name__, e)
            self._drop_consumer()
            ranges, skipped = [], 0
        self.batch_ranges[time_ms] = ranges
        self._last_planned_ms = time_ms
        if skipped:
            self._skipped_by_batch[time_ms] = skipped
        self._save_planned()
        return ranges

    def _drop_consumer(self) -> None:
        with self._consumer_lock:
            if self._consumer is not None:
                try:
                    self._consumer.close()
                finally:
                    self._consumer = None

    def _plan_new(self) -> tuple[list[OffsetRange], int]:
        from kafka import TopicPartition

        self._initial_offsets()
        consumer = self._consumer
        # copies: the batch thread reads these dicts (source_state) while this thread plans;
        # dict.copy() is atomic under the GIL, iterating a dict another thread changes is not
        parts = sorted(self.next_offsets.copy(), key=lambda tp: (tp.topic, tp.partition))
        tps = {tp: TopicPartition(tp.topic, tp.partition) for tp in parts}
        latest = consumer.end_offsets(list(tps.values()))
        earliest = consumer.beginning_offsets(list(tps.values()))
        skipped_total = 0
        starts: dict[TopicAndPartition, int] = {}
        for tp in parts:
            start, low, high = self.next_offsets[tp], earliest[tps[tp]], latest[tps[tp]]
            if start < low or start > high:
                where = "fell out of retention" if start < low else "is past the end (topic recreated?)"
                if self.auto_offset_reset == "none":
                    raise KafkaConfigurationError(
                        f"{self.id}: offset {start} of {tp.topic}-{tp.partition} {where} (log holds "
                        f"[{low}, {high})) and auto.offset.reset is none: set it to smallest or largest")
                new = low if self.auto_offset_reset == "earliest" else high
                skipped = max(0, new - start) if start < low else 0
                skipped_total += skipped
                log.warning("%s: offset %d of %s-%d %s (log holds [%d, %d)); auto.offset.reset=%s: "
                            "continuing at %d, %d offsets skipped", self.id, start, tp.topic,
                            tp.partition, where, low, high, self.auto_offset_reset, new, skipped)
                start = new
            starts[tp] = start
        lags = {tp: max(0, latest[tps[tp]] - starts[tp]) for tp in parts}
        total_lag = sum(lags.values())
        ranges = []
        for tp in parts:
            cap = self.max_records_per_partition(lags[tp], total_lag, len(parts))
            until = latest[tps[tp]] if cap is None else min(latest[tps[tp]], starts[tp] + cap)
            until = max(until, starts[tp])
            self.next_offsets[tp] = until
            if until > starts[tp]:
                ranges.append(OffsetRange(tp.topic, tp.partition, starts[tp], until))
        self.skipped_offsets += skipped_total
        return ranges, skipped_total

    def _before_generate(self, time_ms: int, info: BatchInfo) -> None:
        if not self._is_time_valid(time_ms):
            return
        self._forget_old(time_ms)
        ranges = self.plan(time_ms)
        info.input_records[self.stream_id] = sum(r.count() for r in ranges)
        metadata: dict[str, Any] = {
            "offsetRanges": [r.as_dict() for r in ranges],
            "Description": "\n".join(f"topic: {r.topic}\tpartition: {r.partition}\t"
                                     f"offsets: {r.fromOffset} to {r.untilOffset}" for r in ranges)}
        skipped = self._skipped_by_batch.get(time_ms)
        if skipped:
            metadata["skippedOffsets"] = skipped
        info.input_metadata[self.stream_id] = metadata

    def _forget_old(self, time_ms: int) -> None:
        keep_ms = max(self.remember_ms or 0, self.slide_ms) + self.slide_ms
        for t in [t for t in self.batch_ranges.copy() if t < time_ms - keep_ms and t not in self.generated]:
            self.batch_ranges.pop(t, None)
            self._skipped_by_batch.pop(t, None)

    def _compute(self, time_ms: int) -> RDD[Any] | None:
        ranges = self.plan(time_ms)
        return KafkaRDD(self._sc, self.task_config, ranges, *self.decoders, reads=self.reads)

    def _on_forget(self, time_ms: int, rdd: Any) -> None:
        super()._on_forget(time_ms, rdd)
        self.batch_ranges.pop(time_ms, None)
        self._skipped_by_batch.pop(time_ms, None)

    def _log_reads(self, time_ms: int) -> None:
        new = self.reads.value
        self.reads.value = []        # emptied each batch: it must not grow with the job's life
        for data, host, pid in new:
            log.info("%s batch %d: %s read by process %d on %s", self.id, time_ms,
                     OffsetRange.from_dict(data), pid, host)

    # ------------------------------------------------------------------ commits
    def kafka_batch_offsets(self, time_ms: int) -> BatchOffsets | None:
        """What batch ``time_ms`` read, as its consumer group would commit it (each range's
        ``until``): what a transactional sink commits in the batch's own transaction. The
        saved ranges make the answer the same when the batch runs again after recovery."""
        ranges = self.batch_ranges.get(time_ms)
        if not self.group_id or not ranges:
            return None
        return BatchOffsets(self.group_id, {(r.topic, r.partition): r.untilOffset for r in ranges})

    def source_commits(self, time_ms: int) -> Callable[[], None] | None:
        """Commits batch ``time_ms``'s ``until`` offsets to the consumer group (lag monitoring);
        run once the batch's outputs succeeded and its checkpoint is written."""
        read = self.kafka_batch_offsets(time_ms)
        if read is None:
            return None
        return lambda: self._commit(time_ms, read.offsets)

    def _commit(self, time_ms: int, offsets: dict[tuple[str, int], int]) -> None:
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        try:
            with self._consumer_lock:
                # the last batches' commits come after stop(): a consumer of their own
                temporary = self._stopped
                consumer = self._driver_consumer()
                try:
                    consumer.commit({TopicPartition(t, p): OffsetAndMetadata(o, "", -1)
                                     for (t, p), o in offsets.items()})
                finally:
                    if temporary:
                        self._drop_consumer()
        except Exception as e:
            log.warning("%s: committing the offsets of batch %d to group %r failed (%s: %s); "
                        "only lag monitoring is affected", self.id, time_ms, self.group_id,
                        type(e).__name__, e)

    # ------------------------------------------------------------------ checkpoints
    def source_state(self) -> dict[str, Any]:
        """Plain data for the metadata checkpoint: the next offsets and every remembered
        batch's ranges."""
        next_offsets, batch_ranges = self.next_offsets.copy(), self.batch_ranges.copy()
        return {"next": [[tp.topic, tp.partition, o] for tp, o in sorted(
                    next_offsets.items(), key=lambda kv: (kv[0].topic, kv[0].partition))],
                "batches": {str(t): [r.as_dict() for r in rs] for t, rs in sorted(batch_ranges.items())},
                "skipped": self.skipped_offsets}

    def _planned_name(self) -> str:
        return f"sources/{self.id}/planned"

    def _save_planned(self) -> None:
        """The plans so far, durable before the batch runs (recovery replays them exactly)."""
        checkpoints = self._ssc._checkpoints
        if checkpoints is None:
            return
        manager = checkpoints.manager
        name = self._planned_name()
        payload = json.dumps(self.source_state(), sort_keys=True).encode()
        manager.store.save(name, manager.signer.sign(payload))

    def restore_source_state(self, saved: dict[str, Any]) -> None:
        """The metadata checkpoint's positions, and the newer plans written before batches ran."""
        state = saved
        checkpoints = self._ssc._checkpoints
        if checkpoints is not None:
            manager, name = checkpoints.manager, self._planned_name()
            if manager.store.exists(name):
                try:
                    state = json.loads(manager.signer.verify(manager.store.load(name), name))
                except Exception as e:     # a torn or foreign record: the checkpoint's is used
                    log.warning("%s: planned ranges in %s cannot be read (%s); using the "
                                "checkpoint's", self.id, name, e)
        zero = self.zero_time_ms or 0
        self.batch_ranges = {int(t): [OffsetRange.from_dict(r) for r in rs]
                             for t, rs in state.get("batches", {}).items() if int(t) > zero}
        self.next_offsets = {TopicAndPartition(t, int(p)): int(o) for t, p, o in state.get("next", [])}
        for ranges in self.batch_ranges.values():
            for r in ranges:
                tp = r.topicAndPartition()
                self.next_offsets[tp] = max(self.next_offsets.get(tp, 0), r.untilOffset)
        self.skipped_offsets = int(state.get("skipped", 0))
        if self.batch_ranges:
            self._last_planned_ms = max(self.batch_ranges)
        self._started_partitions = bool(self.next_offsets)
        self._restored = True
        log.info("%s: recovered %d batches' offset ranges; next offsets %s", self.id,
                 len(self.batch_ranges), {f"{tp.topic}-{tp.partition}": o for tp, o in self.next_offsets.items()})


def _check_reachable(bootstrap: str | list[str], timeout: float = 2.0) -> None:
    """Raise ConnectionError unless one of the brokers accepts a TCP connection (kafka-python
    leaks the sockets of a consumer whose construction fails, so that is avoided)."""
    servers = bootstrap.split(",") if isinstance(bootstrap, str) else list(bootstrap)
    for server in servers:
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout):
                return
        except (OSError, ValueError):
            continue
    raise ConnectionError(f"no broker of {bootstrap} accepts connections")


def _check_topics(topics: Iterable[str] | str) -> list[str]:
    if isinstance(topics, str):
        topics = [topics]
    if isinstance(topics, Mapping):
        topics = list(topics)
    try:
        found = list(topics)
    except TypeError:
        raise TypeError(f"createDirectStream: topics must be a list of topic names, got {topics!r}") from None
    if not found or not all(isinstance(t, str) and t for t in found):
        raise ValueError(f"createDirectStream: topics must be non-empty topic names, got {found!r}")
    return found


def _check_from_offsets(from_offsets: Mapping[TopicAndPartition, int] | None) -> dict[TopicAndPartition, int]:
    if from_offsets is None:
        return {}
    if not isinstance(from_offsets, Mapping):
        raise TypeError(f"createDirectStream: fromOffsets must be a dict of TopicAndPartition to "
                        f"offset, got {type(from_offsets).__name__}")
    checked = {}
    for tp, offset in from_offsets.items():
        if isinstance(tp, tuple) and not isinstance(tp, TopicAndPartition):
            tp = TopicAndPartition(*tp)
        if not isinstance(tp, TopicAndPartition):
            raise TypeError(f"createDirectStream: fromOffsets keys must be TopicAndPartition, got {tp!r}")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError(f"createDirectStream: fromOffsets[{tp}] must be an int >= 0, got {offset!r}")
        checked[tp] = offset
    return checked


def _non_negative(conf: Conf, key: str, default: float) -> float:
    value = conf.getFloat(key, default)
    if value < 0:
        raise ValueError(f"{key} must be >= 0 (records/s), got {value}")
    return value
