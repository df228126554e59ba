"""The small parts of Spark's surface that PySpark programs touch: ``rdd.context``, ``DStream[T]``
in annotations, and the ``sc._jvm`` log4j idioms that quiet logs."""

import logging
import typing
from collections.abc import Iterator
from typing import Any, Tuple

import pytest

from dstream import RDD, Context, SparkContext, StreamingContext
from dstream.streaming import DStream
from dstream.streaming.testing import advance_batch

# Evaluated when the module is imported, as in Spark's typed examples (no postponed annotations).
Sentiments = DStream[Tuple[float, str]]


def typed_join(word_counts: DStream[Tuple[str, int]],
               sentiments: RDD[Tuple[str, float]]) -> DStream[Tuple[float, str]]:
    return word_counts.transform(
        lambda rdd: rdd.join(sentiments).map(lambda kv: (kv[1][0] * kv[1][1], kv[0])))


@pytest.fixture(scope="module")
def ctx() -> Iterator[Context]:
    context = Context("local", "pyspark-surface")
    try:
        yield context
    finally:
        context.stop()


@pytest.fixture
def engine_level() -> Iterator[logging.Logger]:
    """The ``dstream`` logger, its level restored afterwards (with that of ``myapp``)."""
    engine, app = logging.getLogger("dstream"), logging.getLogger("myapp")
    saved = engine.level, app.level
    try:
        yield engine
    finally:
        engine.setLevel(saved[0])
        app.setLevel(saved[1])


# ---------------------------------------------------------------------- rdd.context
def test_rdd_context_is_the_context_that_made_it(ctx: Context) -> None:
    source = ctx.parallelize([("a", 1)], 2)
    for rdd in (source, source.map(str), source.reduceByKey(max), ctx.emptyRDD(),
                source.union(ctx.emptyRDD()), source.join(source)):
        assert rdd.context is ctx


def test_rdd_context_reaches_broadcasts_and_accumulators_inside_foreach_rdd(ctx: Context) -> None:
    """The recoverable network word count's idiom: broadcasts and accumulators made from
    ``rdd.context`` inside ``foreachRDD``."""
    ssc = StreamingContext(ctx, 1, clock="manual")
    kept: list[list[str]] = []
    dropped: list[int] = []

    def each(rdd: RDD) -> None:
        blacklist = rdd.context.broadcast({"b"})
        counter = rdd.context.accumulator(0)

        def keep(word: str) -> bool:
            if word in blacklist.value:
                counter.add(1)
                return False
            return True

        kept.append(sorted(rdd.filter(keep).collect()))
        dropped.append(counter.value)

    ssc.queueStream([["a", "b", "b"], ["b", "c"]]).foreachRDD(each)
    ssc.start()
    try:
        advance_batch(ssc)
        advance_batch(ssc)
    finally:
        ssc.stop(stopSparkContext=False)
    assert kept == [["a"], ["c"]] and dropped == [2, 1]


# ---------------------------------------------------------------------- DStream[T]
def test_dstream_is_generic_and_subscriptable_at_run_time() -> None:
    assert typing.get_origin(Sentiments) is DStream
    assert typing.get_args(Sentiments) == (Tuple[float, str],)
    hints = typing.get_type_hints(typed_join)
    assert hints["return"] == DStream[Tuple[float, str]]
    assert hints["sentiments"] == RDD[Tuple[str, float]]
    assert typing.get_origin(DStream[int]) is DStream


def test_typed_join_runs(ctx: Context) -> None:
    ssc = StreamingContext(ctx, 1, clock="manual")
    sentiments = ctx.parallelize([("good", 1.5), ("bad", -2.0)])
    batches: list[list[Any]] = []
    typed_join(ssc.queueStream([[("good", 2), ("bad", 1), ("meh", 4)]]), sentiments).foreachRDD(
        lambda rdd: batches.append(sorted(rdd.collect())))
    ssc.start()
    try:
        advance_batch(ssc)
    finally:
        ssc.stop(stopSparkContext=False)
    assert batches == [[(-2.0, "bad"), (3.0, "good")]]


# ---------------------------------------------------------------------- sc._jvm
def test_log4j_root_logger_level_sets_the_engine_level(ctx: Context, engine_level: logging.Logger) -> None:
    log4j = ctx._jvm.org.apache.log4j
    log4j.LogManager.getRootLogger().setLevel(log4j.Level.WARN)
    assert engine_level.level == logging.WARNING
    log4j.LogManager.getLogger("org").setLevel(log4j.Level.ERROR)
    assert engine_level.level == logging.ERROR
    log4j.Logger.getLogger("org.apache.spark.streaming").setLevel(log4j.Level.toLevel("info"))
    assert engine_level.level == logging.INFO
    log4j.LogManager.getLogger("akka").setLevel(log4j.Level.DEBUG)
    assert engine_level.level == logging.DEBUG


def test_log4j2_configurator_sets_the_engine_level(ctx: Context, engine_level: logging.Logger) -> None:
    log4j = ctx._jvm.org.apache.logging.log4j
    log4j.core.config.Configurator.setRootLevel(log4j.Level.ERROR)
    assert engine_level.level == logging.ERROR
    log4j.core.config.Configurator.setLevel("org.apache.spark", log4j.Level.WARN)
    assert engine_level.level == logging.WARNING
    log4j.LogManager.getRootLogger().setLevel(log4j.Level.FATAL)
    assert engine_level.level == logging.CRITICAL


def test_class_level_jvm_uses_the_active_context(ctx: Context, engine_level: logging.Logger) -> None:
    log4j = SparkContext._jvm.org.apache.log4j
    log4j.LogManager.getRootLogger().setLevel(log4j.Level.ERROR)
    assert engine_level.level == logging.ERROR


def test_log4j_logger_of_the_program_is_pythons_logger(ctx: Context, engine_level: logging.Logger,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    log4j = ctx._jvm.org.apache.log4j
    engine_level.setLevel(logging.ERROR)
    logger = log4j.LogManager.getLogger("myapp")
    logger.setLevel(log4j.Level.INFO)
    assert logging.getLogger("myapp").level == logging.INFO
    assert engine_level.level == logging.ERROR            # the program's logger, not the engine's
    with caplog.at_level(logging.INFO, logger="myapp"):
        logger.info("batch done")
        logger.warn("slow batch")
        logger.debug("not shown")
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("myapp", "INFO", "batch done"), ("myapp", "WARNING", "slow batch")]


@pytest.mark.parametrize("use", [
    lambda jvm: jvm.java.lang.System.getProperty("user.dir"),
    lambda jvm: jvm.org.apache.spark.api.python.PythonRDD,
    lambda jvm: jvm.org.apache.log4j.PropertyConfigurator,
    lambda jvm: jvm.org.apache.log4j.LogManager.getRootLogger().addAppender(None),
], ids=["java.lang.System", "PythonRDD", "PropertyConfigurator", "addAppender"])
def test_other_jvm_paths_say_what_to_write_instead(ctx: Context, use: Any) -> None:
    with pytest.raises(AttributeError, match=r'dstream runs no JVM.*sc\.setLogLevel\("WARN"\)'):
        use(ctx._jvm)
    assert not hasattr(ctx._jvm, "com")


def test_unknown_log4j_level_names_the_levels(ctx: Context) -> None:
    with pytest.raises(AttributeError, match=r"log4j Level has no 'LOUD'; the levels are OFF, FATAL, ERROR"):
        ctx._jvm.org.apache.log4j.Level.LOUD
    with pytest.raises(TypeError, match=r"a log4j level is needed .* got 42"):
        ctx._jvm.org.apache.log4j.LogManager.getRootLogger().setLevel(42)
