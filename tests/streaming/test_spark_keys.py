"""Every ``spark.streaming.*`` key in the registry changes what a running StreamingContext does
when it is set under its Spark name, in Spark's units. One row per key: the Spark key and value,
and a probe that starts a context with that conf and returns what the running parts did or
use. The keys whose effect is on a whole process (the write-ahead log across a SIGKILL, the
graceful stop on SIGTERM) are proved in ``tests/faults/test_spark_keys_in_a_process.py``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dstream import Conf, Context, KafkaUtils, Receiver, StreamingContext
from dstream.conf import SETTINGS, SPARK_ALIASES
from dstream.streaming.clock import ManualClock
from dstream.streaming.inputs.receiver_streams import _RateController
from dstream.streaming.testing import advance_batch
from tests.faults.test_spark_keys_in_a_process import KEYS as PROCESS_KEYS


class Quiet(Receiver):
    """A receiver that stores nothing: its supervisor shows the settings it runs with."""

    def onStart(self) -> None:
        pass

    def onStop(self) -> None:
        pass


Probe = Callable[[StreamingContext, Any], Any]


def started_with_receiver(ssc: StreamingContext) -> Any:
    ssc.receiverStream(Quiet()).foreachRDD(lambda rdd: None)
    ssc.start()
    [supervisor] = ssc._receiver_tracker.supervisors()
    return supervisor._generator


def has_rate_controller(ssc: StreamingContext) -> bool:
    return any(isinstance(l, _RateController) for l in ssc._bus._listeners)


def rate_controller(ssc: StreamingContext) -> _RateController:
    [controller] = [l for l in ssc._bus._listeners if isinstance(l, _RateController)]
    return controller


def concurrent_batches(ssc: StreamingContext, _tmp: Any) -> bool:
    """Batch 1's output waits for batch 2's: only with two batches at once does it see it."""
    second_ran = threading.Event()
    seen: list[bool] = []

    def output(time: Any, rdd: Any) -> None:
        if rdd.collect() == [1]:
            seen.append(second_ran.wait(5))
        else:
            second_ran.set()

    ssc.queueStream([[1], [2]]).foreachRDD(output)
    ssc.start()
    for _ in range(2):
        ssc._clock.advance(ssc.batch_duration_ms)
    assert ssc._scheduler.wait_for_batch(2000, 60)
    return seen == [True]       # one batch at a time: batch 1 gives up waiting after 5 s


def retained_batches(ssc: StreamingContext, _tmp: Any) -> int:
    ssc.queueStream([[1]] * 4).foreachRDD(lambda rdd: None)
    ssc.start()
    for _ in range(4):
        advance_batch(ssc)
    ssc._bus.wait_until_empty(30)
    return len(ssc._history.snapshot()[0])


def stop_timeout_in_warning(ssc: StreamingContext, _tmp: Any) -> bool:
    """A batch that outlives the stop's time limit is reported with that limit."""
    release, started = threading.Event(), threading.Event()

    def slow(rdd: Any) -> None:
        started.set()
        release.wait(60)

    ssc.queueStream([[1]]).foreachRDD(slow)
    ssc.start()
    ssc._clock.advance(ssc.batch_duration_ms)
    assert started.wait(30)
    handler = _Records()
    logging.getLogger("dstream.streaming.context").addHandler(handler)
    try:
        ssc.stop(stopSparkContext=False, stopGraceFully=True)
    finally:
        release.set()
        logging.getLogger("dstream.streaming.context").removeHandler(handler)
    return any("still running after 0.3 s" in m for m in handler.messages)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def restart_delay(ssc: StreamingContext, _tmp: Any) -> float:
    """How long a receiver whose thread failed waits before it restarts (the first time)."""
    started_with_receiver(ssc)
    [supervisor] = ssc._receiver_tracker.supervisors()
    return supervisor._restart_delay_s


def wal_roll_interval(ssc: StreamingContext, tmp: Any) -> int:
    ssc.checkpoint(os.fspath(tmp / "checkpoint"))
    started_with_receiver(ssc)
    assert ssc._checkpoints is not None and ssc._checkpoints.manager.wal is not None
    return ssc._checkpoints.manager.wal.roll_interval_ms


NOT_RUN = object()   # the probe without the key would wait out a 60 s default

# spark key, value (Spark's units), other conf, probe, what it gives with the key, without it
def direct_cap(ssc: StreamingContext, _tmp: Any) -> int | None:
    """The records a Kafka direct stream lets one partition (lag 1,000 of 3,000) give a batch."""
    direct = KafkaUtils.createDirectStream(ssc, ["t"], {"metadata.broker.list": "127.0.0.1:9"})
    return direct.max_records_per_partition(1000, 3000, 3)


ROWS: list[tuple[str, str, dict[str, str], Probe, Any, Any]] = [
    ("spark.streaming.concurrentJobs", "2", {}, concurrent_batches, True, False),
    ("spark.streaming.blockInterval", "30000", {},                     # ms, as in Spark
     lambda ssc, tmp: started_with_receiver(ssc).block_interval_s, 30.0, 0.2),
    ("spark.streaming.receiver.maxRate", "7", {},
     lambda ssc, tmp: started_with_receiver(ssc)._max_rate, 7.0, None),
    ("spark.streaming.backpressure.enabled", "true", {},
     lambda ssc, tmp: (started_with_receiver(ssc), has_rate_controller(ssc))[1], True, False),
    ("spark.streaming.backpressure.initialRate", "5", {"dstream.streaming.backpressure.enabled": "true"},
     lambda ssc, tmp: started_with_receiver(ssc)._dynamic_rate, 5.0, None),
    ("spark.streaming.backpressure.pid.minRate", "42", {"dstream.streaming.backpressure.enabled": "true"},
     lambda ssc, tmp: (started_with_receiver(ssc), rate_controller(ssc)._pid.min_rate)[1], 42.0, 100.0),
    ("spark.streaming.backpressure.pid.proportional", "0.5", {"dstream.streaming.backpressure.enabled": "true"},
     lambda ssc, tmp: (started_with_receiver(ssc), rate_controller(ssc)._pid.kp)[1], 0.5, 1.0),
    ("spark.streaming.backpressure.pid.integral", "0.1", {"dstream.streaming.backpressure.enabled": "true"},
     lambda ssc, tmp: (started_with_receiver(ssc), rate_controller(ssc)._pid.ki)[1], 0.1, 0.2),
    ("spark.streaming.backpressure.pid.derived", "0.3", {"dstream.streaming.backpressure.enabled": "true"},
     lambda ssc, tmp: (started_with_receiver(ssc), rate_controller(ssc)._pid.kd)[1], 0.3, 0.0),
    ("spark.streaming.receiverRestartDelay", "500", {}, restart_delay, 0.5, 0.2),      # ms
    ("spark.streaming.fileStream.minRememberDuration", "120", {},                     # s
     lambda ssc, tmp: ssc.textFileStream(os.fspath(tmp)).scanner.min_remember_ms, 120_000, 60_000),
    ("spark.streaming.receiver.writeAheadLog.rollingIntervalSecs", "5",
     {"dstream.streaming.receiver.writeAheadLog.enable": "true"}, wal_roll_interval, 5000, 60000),
    ("spark.streaming.ui.retainedBatches", "2", {}, retained_batches, 2, 4),
    ("spark.streaming.gracefulStopTimeout", "300", {}, stop_timeout_in_warning, True, NOT_RUN),  # ms
    ("spark.streaming.clock", "org.apache.spark.util.ManualClock", {},
     lambda ssc, tmp: isinstance(ssc._clock, ManualClock), True, False),
    # the Kafka direct stream's cap of one partition's records in a 1 s batch (lag 1000 of 3000)
    ("spark.streaming.kafka.maxRatePerPartition", "40", {}, direct_cap, 40, None),
    ("spark.streaming.kafka.minRatePerPartition", "50",
     {"dstream.streaming.backpressure.enabled": "true",
      "dstream.streaming.backpressure.initialRate": "3"}, direct_cap, 50, 1),
]


def test_every_spark_streaming_key_in_the_registry_has_a_row() -> None:
    registered = {k for k in SPARK_ALIASES if k.startswith("spark.streaming.")}
    assert registered == {row[0] for row in ROWS} | set(PROCESS_KEYS)


@pytest.fixture
def streaming() -> Iterator[Callable[[Conf, bool], StreamingContext]]:
    """``make(conf, manual_clock)``: a StreamingContext of 1 s batches on a new Context; the
    one made before is stopped first (one Context at a time)."""
    made: list[StreamingContext] = []

    def make(conf: Conf, manual_clock: bool = True) -> StreamingContext:
        for ssc in made:
            ssc.stop(stopSparkContext=True)
        ssc = StreamingContext(Context("local", "spark-keys", conf=conf), 1,
                               clock="manual" if manual_clock else None)
        made.append(ssc)
        return ssc

    yield make
    for ssc in made:
        ssc.stop(stopSparkContext=True)


@pytest.mark.parametrize("spark_key, value, others, probe, with_key, without_key", ROWS,
                         ids=[r[0] for r in ROWS])
def test_a_spark_streaming_key_changes_behaviour_under_its_spark_name(
        spark_key: str, value: str, others: dict[str, str], probe: Probe, with_key: Any,
        without_key: Any, streaming: Callable[[Conf, bool], StreamingContext], tmp_path: Any) -> None:
    manual = spark_key != "spark.streaming.clock"      # that row leaves the clock to the conf
    conf = Conf().setAll(others.items())
    assert probe(streaming(conf.copy().set(spark_key, value), manual), tmp_path) == with_key
    if without_key is NOT_RUN:
        assert SETTINGS[SPARK_ALIASES[spark_key].key].default != with_key
    else:
        assert probe(streaming(conf, manual), tmp_path / "without") == without_key
