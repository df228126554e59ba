"""``spark.streaming.stopGracefullyOnShutdown`` takes SIGTERM/SIGINT only where they have their
default handlers, and gives them back when the context stops (the SIGTERM drain itself is
tested on a separate process in tests/faults/test_spark_keys_in_a_process.py)."""

from __future__ import annotations

import signal
from typing import Any

from dstream import Conf, Context, StreamingContext

CONF = Conf().set("spark.streaming.stopGracefullyOnShutdown", "true")


def started(ctx: Context) -> StreamingContext:
    ssc = StreamingContext(ctx, 1, clock="manual")
    ssc.queueStream([[1]]).foreachRDD(lambda rdd: None)
    ssc.start()
    return ssc


def test_default_handlers_are_taken_while_running_and_given_back_at_stop() -> None:
    before = signal.getsignal(signal.SIGTERM)
    assert before == signal.SIG_DFL
    with Context("local", "shutdown", conf=CONF) as ctx:
        ssc = started(ctx)
        assert signal.getsignal(signal.SIGTERM) == ssc._shutdown_hook._on_signal
        ssc.stop(stopSparkContext=False)
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_a_programs_own_handler_is_kept() -> None:
    calls: list[int] = []

    def mine(signum: int, frame: Any) -> None:
        calls.append(signum)

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        with Context("local", "shutdown", conf=CONF) as ctx:
            ssc = started(ctx)
            assert signal.getsignal(signal.SIGTERM) is mine
            ssc.stop(stopSparkContext=False)
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_without_the_key_no_handler_is_installed() -> None:
    with Context("local", "shutdown") as ctx:
        ssc = started(ctx)
        assert ssc._shutdown_hook is None and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        ssc.stop(stopSparkContext=False)
