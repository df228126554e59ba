"""Typing tests: the element types mypy infers along realistic pipelines.

Checked by mypy (``tests/test_typing.py``), not run: each function only builds streams.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator, assert_type

from dstream import RDD, DStream, State, StateSpec, StorageLevel, StreamingContext
from dstream.aggregation import ResultIterable
from dstream.kafka_rdd import KafkaMessageAndMetadata
from dstream.streaming.kafka import KafkaUtils
from dstream.streaming.dstream import EventTimeDStream, EventWindowDStream, MapWithStateDStream

Window = tuple[str, datetime, datetime]


def word_count(ssc: StreamingContext) -> None:
    lines = ssc.socketTextStream("localhost", 9999)
    assert_type(lines, DStream[str])
    words = lines.flatMap(lambda line: line.split())
    assert_type(words, DStream[str])
    pairs = words.map(lambda word: (word, 1))
    assert_type(pairs, DStream[tuple[str, int]])
    counts = pairs.reduceByKey(lambda a, b: a + b)
    assert_type(counts, DStream[tuple[str, int]])
    assert_type(counts.filter(lambda kv: kv[1] > 1), DStream[tuple[str, int]])
    assert_type(counts.count(), DStream[int])
    assert_type(words.countByValue(), DStream[tuple[str, int]])
    assert_type(words.glom(), DStream[list[str]])
    assert_type(words.reduce(lambda a, b: a + b), DStream[str])
    assert_type(words.repartition(4), DStream[str])
    assert_type(ssc.textFileStream("in").union(lines), DStream[str])
    assert_type(lines.union(counts), DStream[str | tuple[str, int]])
    assert_type(ssc.union(lines, words), DStream[str])


def partitions(ssc: StreamingContext) -> None:
    numbers = ssc.queueStream([[1, 2], [3]])
    assert_type(numbers, DStream[int])

    def sums(it: Iterator[int]) -> Iterator[float]:
        yield float(sum(it))

    assert_type(numbers.mapPartitions(sums), DStream[float])
    assert_type(numbers.mapPartitionsWithIndex(lambda i, it: [(i, sum(it))]),
                DStream[tuple[int, int]])


def persistence(ssc: StreamingContext) -> None:
    numbers = ssc.queueStream([[1, 2], [3]])
    assert_type(numbers.cache(), DStream[int])
    assert_type(numbers.persist(StorageLevel.MEMORY_AND_DISK).checkpoint(10), DStream[int])
    assert_type(numbers.setName("numbers"), DStream[int])
    assert_type(numbers.name(), str)
    assert_type(numbers.slice(0, 10), list[RDD[int]])


def pair_operations(ssc: StreamingContext) -> None:
    clicks = ssc.queueStream([[("home", 1.5)]])
    users = ssc.queueStream([[("home", "ann")]])
    assert_type(clicks, DStream[tuple[str, float]])
    assert_type(clicks.mapValues(lambda t: int(t)), DStream[tuple[str, int]])
    assert_type(clicks.flatMapValues(lambda t: [t, t]), DStream[tuple[str, float]])
    assert_type(clicks.groupByKey(), DStream[tuple[str, ResultIterable[float]]])

    def start(v: float) -> list[float]:
        return [v]

    def add(acc: list[float], v: float) -> list[float]:
        return acc + [v]

    assert_type(clicks.combineByKey(start, add, list.__add__), DStream[tuple[str, list[float]]])
    assert_type(clicks.partitionBy(4), DStream[tuple[str, float]])
    assert_type(clicks.join(users), DStream[tuple[str, tuple[float, str]]])
    assert_type(clicks.leftOuterJoin(users), DStream[tuple[str, tuple[float, str | None]]])
    assert_type(clicks.rightOuterJoin(users), DStream[tuple[str, tuple[float | None, str]]])
    assert_type(clicks.fullOuterJoin(users),
                DStream[tuple[str, tuple[float | None, str | None]]])
    assert_type(clicks.cogroup(users),
                DStream[tuple[str, tuple[ResultIterable[float], ResultIterable[str]]]])


def windows(ssc: StreamingContext) -> None:
    pairs = ssc.queueStream([[("a", 1)]])
    assert_type(pairs.window(30, 10), DStream[tuple[str, int]])
    assert_type(pairs.reduceByKeyAndWindow(lambda a, b: a + b, lambda a, b: a - b, 30, 10),
                DStream[tuple[str, int]])
    assert_type(pairs.groupByKeyAndWindow(30, 10), DStream[tuple[str, ResultIterable[int]]])
    assert_type(pairs.countByWindow(30, 10), DStream[int])
    assert_type(pairs.countByValueAndWindow(30, 10), DStream[tuple[tuple[str, int], int]])
    assert_type(pairs.map(lambda kv: kv[1]).reduceByWindow(max, None, 30, 10), DStream[int])


def state(ssc: StreamingContext) -> None:
    pairs = ssc.queueStream([[("a", 1)]])

    def running_total(values: list[int], total: float | None) -> float | None:
        return sum(values) + (total or 0)

    assert_type(pairs.updateStateByKey(running_total), DStream[tuple[str, float]])
    assert_type(pairs.updateStateByKey(running_total, initialRDD=[("a", 1.0)]),
                DStream[tuple[str, float]])

    def track(key: str, value: int | None, total: State[int]) -> tuple[str, int]:
        total.update(total.getOption() or 0 + (value or 0))
        assert_type(total.get(), int)
        return key, total.get()

    # the function takes the values of the stream and None (a key timing out)
    spec = StateSpec.function(track).timeout(60)
    assert_type(spec, StateSpec[str, int | None, int, tuple[str, int]])
    tracked = pairs.mapWithState(spec)
    assert_type(tracked, MapWithStateDStream[str, int, tuple[str, int]])
    assert_type(tracked.stateSnapshots(), DStream[tuple[str, int]])

    def timed(when: datetime, key: str, value: int | None, seen: State[bool]) -> str:
        return key

    assert_type(pairs.mapWithState(StateSpec.function(timed)), MapWithStateDStream[str, bool, str])


def event_time(ssc: StreamingContext) -> None:
    clicks = ssc.queueStream([[("a", 3.0)]]).withEventTime(lambda kv: kv[1], 5)
    assert_type(clicks, EventTimeDStream[tuple[str, float]])
    assert_type(clicks.map(lambda kv: (kv[0], 1)), EventTimeDStream[tuple[str, int]])
    assert_type(clicks.filter(lambda kv: kv[1] > 0), EventTimeDStream[tuple[str, float]])
    assert_type(clicks.mapValues(str), EventTimeDStream[tuple[str, str]])
    per_window = clicks.reduceByKeyAndEventWindow(lambda a, b: a + b, 10)
    assert_type(per_window, EventWindowDStream[tuple[Window, float], tuple[str, float]])
    assert_type(per_window.lateRecords(), EventTimeDStream[tuple[str, float]])
    assert_type(per_window.setName("sums"),
                EventWindowDStream[tuple[Window, float], tuple[str, float]])
    assert_type(clicks.countByKeyAndEventWindow(10),
                EventWindowDStream[tuple[Window, int], tuple[str, float]])
    assert_type(clicks.aggregateByKeyAndEventWindow([0.0], lambda acc, v: acc + [v],
                                                     lambda a, b: a + b, 10),
                EventWindowDStream[tuple[Window, list[float]], tuple[str, float]])
    assert_type(clicks.reduceByKeyAndSessionWindow(max, 30),
                EventWindowDStream[tuple[Window, float], tuple[str, float]])


def transforms(ssc: StreamingContext) -> None:
    words = ssc.queueStream([["a", "b"]])
    lengths = ssc.queueStream([[1, 2]])
    assert_type(words.transform(lambda rdd: rdd.sortBy(lambda w: w)), DStream[str])
    assert_type(words.transform(lambda time, rdd: rdd.map(lambda w: (time, w))),
                DStream[tuple[datetime, str]])
    assert_type(words.transformWith(lambda a, b: a.zip(b), lengths), DStream[tuple[str, int]])

    def zipped(rdds: tuple[RDD[Any], ...]) -> RDD[tuple[str, int]]:
        return rdds[0].zip(rdds[1])

    assert_type(ssc.transform([words, lengths], zipped), DStream[tuple[str, int]])


def outputs(ssc: StreamingContext) -> None:
    counts = ssc.queueStream([[("a", 1)]])

    def show(rdd: RDD[tuple[str, int]]) -> None:
        assert_type(rdd.collect(), list[tuple[str, int]])
        assert_type(rdd.keys(), RDD[str])

    def show_at(time: datetime, rdd: RDD[tuple[str, int]]) -> None:
        assert_type(rdd.reduceByKey(lambda a, b: a + b), RDD[tuple[str, int]])

    counts.foreachRDD(show)
    counts.foreachRDD(show_at)
    counts.pprint()


def kafka(ssc: StreamingContext) -> None:
    params = {"bootstrap.servers": "localhost:9092"}

    def to_int(raw: bytes | None) -> int:
        return int(raw or b"0")

    def offset(message: KafkaMessageAndMetadata) -> int:
        return message.offset

    assert_type(KafkaUtils.createStream(ssc, "localhost:9092", "group", ["t"]),
                DStream[tuple[str | None, str | None]])
    assert_type(KafkaUtils.createStream(ssc, "localhost:9092", "group", ["t"], valueDecoder=to_int),
                DStream[tuple[str | None, int]])
    assert_type(KafkaUtils.createDirectStream(ssc, ["t"], params),
                DStream[tuple[str | None, str | None]])
    assert_type(KafkaUtils.createDirectStream(ssc, ["t"], params, keyDecoder=to_int),
                DStream[tuple[int, str | None]])
    assert_type(KafkaUtils.createDirectStream(ssc, ["t"], params, keyDecoder=to_int,
                                              valueDecoder=to_int),
                DStream[tuple[int, int]])
    assert_type(KafkaUtils.createDirectStream(ssc, ["t"], params, messageHandler=offset),
                DStream[int])
