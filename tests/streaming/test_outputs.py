"""Output operations: foreachRDD's callback forms, pprint's exact text, saveAsTextFiles' layout,
and the order in which a batch's outputs run."""

from __future__ import annotations

import datetime as dt
import functools
import os
from typing import Any

import pytest

from dstream import StreamingContext
from dstream.streaming.testing import advance_batch


def t(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds)


def run_outputs(ssc: StreamingContext, n: int) -> None:
    ssc.start()
    for _ in range(n):
        advance_batch(ssc)
    ssc.awaitTerminationOrTimeout(0)


# ---------------------------------------------------------------------- foreachRDD forms
def plain(log: list, rdd: Any) -> None:
    log.append(("plain", rdd.collect()))


def timed(log: list, time: dt.datetime, rdd: Any) -> None:
    log.append(("timed", time, rdd.collect()))


class Sink:
    def __init__(self) -> None:
        self.log: list[Any] = []

    def plain(self, rdd: Any) -> None:
        self.log.append(("plain", rdd.collect()))

    def timed(self, time: dt.datetime, rdd: Any) -> None:
        self.log.append(("timed", time, rdd.collect()))


class PlainCallable:
    def __init__(self) -> None:
        self.log: list[Any] = []

    def __call__(self, rdd: Any) -> None:
        self.log.append(("plain", rdd.collect()))


class TimedCallable:
    def __init__(self) -> None:
        self.log: list[Any] = []

    def __call__(self, time: dt.datetime, rdd: Any) -> None:
        self.log.append(("timed", time, rdd.collect()))


EXPECTED_PLAIN = [("plain", [1]), ("plain", [2])]
EXPECTED_TIMED = [("timed", t(1), [1]), ("timed", t(2), [2])]


def _function(kind: str) -> tuple[Any, list]:
    log: list[Any] = []
    if kind == "plain":
        return lambda rdd: plain(log, rdd), log
    return lambda time, rdd: timed(log, time, rdd), log


def _partial(kind: str) -> tuple[Any, list]:
    log: list[Any] = []
    return functools.partial(plain if kind == "plain" else timed, log), log


def _bound(kind: str) -> tuple[Any, list]:
    sink = Sink()
    return (sink.plain if kind == "plain" else sink.timed), sink.log


def _callable(kind: str) -> tuple[Any, list]:
    obj = PlainCallable() if kind == "plain" else TimedCallable()
    return obj, obj.log


def _defaults(kind: str) -> tuple[Any, list]:
    """PySpark's rule counts positional parameters, defaults included: ``(rdd, tag=...)`` has
    two, so it is called as ``(time, rdd)``; ``(time, rdd, tag=...)`` too."""
    log: list[Any] = []
    if kind == "plain":
        return (lambda rdd, *, tag="plain": log.append((tag, rdd.collect()))), log
    return (lambda time, rdd, tag="timed": log.append((tag, time, rdd.collect()))), log


def test_a_default_argument_counts_as_positional(ssc: StreamingContext) -> None:
    seen: list[Any] = []
    ssc.queueStream([[1]]).foreachRDD(lambda rdd, extra=None: seen.append((rdd, extra.collect())))
    run_outputs(ssc, 1)
    assert seen == [(t(1), [1])]         # as in PySpark: the time went to ``rdd``


def _varargs(kind: str) -> tuple[Any, list]:
    """``(*args)``: no positional parameter, so the time comes first (as in PySpark);
    ``(rdd, *rest)``: one, so the plain form."""
    log: list[Any] = []
    if kind == "plain":
        return (lambda rdd, *rest: log.append(("plain", rdd.collect()))), log
    return (lambda *args: log.append(("timed", args[0], args[1].collect()))), log


@pytest.mark.parametrize("make", [_function, _partial, _bound, _callable, _defaults, _varargs],
                         ids=["function", "partial", "bound-method", "callable-object", "defaults",
                              "varargs"])
@pytest.mark.parametrize("kind", ["plain", "timed"])
def test_foreach_rdd_callback_forms(ssc: StreamingContext, make: Any, kind: str) -> None:
    func, log = make(kind)
    ssc.queueStream([[1], [2]]).foreachRDD(func)
    run_outputs(ssc, 2)
    assert log == (EXPECTED_PLAIN if kind == "plain" else EXPECTED_TIMED)


@pytest.mark.parametrize("func", [lambda: None, lambda a, b, c: None, 42])
def test_foreach_rdd_rejects_other_functions(ssc: StreamingContext, func: Any) -> None:
    with pytest.raises(TypeError, match="foreachRDD"):
        ssc.queueStream([[1]]).foreachRDD(func)


def test_batch_times_are_naive_on_the_batch_grid(ctx: Any) -> None:
    ssc = StreamingContext(ctx, 2, clock="manual")
    ssc._clock.set_time(3_000)        # the first batch is the next multiple of 2 s: 4 s
    times: list[dt.datetime] = []
    ssc.queueStream([[1]]).foreachRDD(lambda time, rdd: times.append(time))
    try:
        run_outputs(ssc, 3)
    finally:
        ssc.stop(stopSparkContext=False)
    assert times == [t(4), t(6), t(8)]
    assert all(x.tzinfo is None and x.microsecond == 0 for x in times)


# ---------------------------------------------------------------------- pprint
def header(seconds: int) -> str:
    dashes = "-------------------------------------------"
    return f"{dashes}\nTime: {t(seconds)}\n{dashes}\n"


def test_pprint_exact_format(ssc: StreamingContext, capsys: pytest.CaptureFixture[str]) -> None:
    ssc.queueStream([list(range(12)), ["a", ("b", 1)], []]).pprint()
    run_outputs(ssc, 3)
    expected = (header(1) + "".join(f"{i}\n" for i in range(10)) + "...\n\n"
                + header(2) + "a\n('b', 1)\n\n"
                + header(3) + "\n")
    assert capsys.readouterr().out == expected


@pytest.mark.parametrize("num, shown, more", [(2, [0, 1], True), (3, [0, 1, 2], False), (5, [0, 1, 2], False),
                                              (0, [], True)])
def test_pprint_num(ssc: StreamingContext, capsys: pytest.CaptureFixture[str], num: int, shown: list,
                    more: bool) -> None:
    ssc.queueStream([[0, 1, 2]]).pprint(num)
    run_outputs(ssc, 1)
    body = "".join(f"{x}\n" for x in shown) + ("...\n" if more else "")
    assert capsys.readouterr().out == header(1) + body + "\n"


def test_pprint_rejects_a_negative_count(ssc: StreamingContext) -> None:
    with pytest.raises(ValueError, match="pprint needs num as an int >= 0, got -1"):
        ssc.queueStream([]).pprint(-1)


# ---------------------------------------------------------------------- saveAsTextFiles
@pytest.mark.parametrize("ctx", ["local", "local[2]", "dask-local[2]"], indirect=True)
def test_save_as_text_files_layout(ctx: Any, ssc: StreamingContext, tmp_path: Any) -> None:
    prefix = os.fspath(tmp_path / "out" / "words")
    ssc.queueStream([["a", "b", "c"], []]).saveAsTextFiles(prefix, "txt")
    run_outputs(ssc, 2)
    n = ctx.defaultParallelism
    parts = [f"part-{i:05d}" for i in range(n)]
    assert sorted(os.listdir(tmp_path / "out")) == ["words-1000.txt", "words-2000.txt"]
    first = tmp_path / "out" / "words-1000.txt"
    assert sorted(p for p in os.listdir(first) if p.startswith("part-")) == parts
    lines = [line for p in parts for line in (first / p).read_text().splitlines()]
    assert lines == ["a", "b", "c"]
    second = tmp_path / "out" / "words-2000.txt"
    assert sorted(p for p in os.listdir(second) if p.startswith("part-")) == parts
    assert all((second / p).read_text() == "" for p in parts)


@pytest.mark.parametrize("suffix, name", [(None, "x-1000"), ("", "x-1000."), ("csv", "x-1000.csv")])
def test_save_as_text_files_suffix(ssc: StreamingContext, tmp_path: Any, suffix: Any, name: str) -> None:
    ssc.queueStream([[("k", 1)]]).saveAsTextFiles(os.fspath(tmp_path / "x"), suffix)
    run_outputs(ssc, 1)
    assert os.listdir(tmp_path) == [name]
    assert (tmp_path / name / "part-00000").read_text() == "('k', 1)\n"


# ---------------------------------------------------------------------- order
def test_outputs_run_in_registration_order(ssc: StreamingContext, tmp_path: Any,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    order: list[Any] = []
    stream = ssc.queueStream([[1], [2]])
    stream.foreachRDD(lambda rdd: order.append(("first", rdd.collect())))
    stream.map(lambda x: -x).foreachRDD(lambda time, rdd: order.append(("second", rdd.collect())))
    stream.pprint()
    stream.foreachRDD(lambda rdd: order.append(("after pprint", len(capsys.readouterr().out) > 0)))
    stream.foreachRDD(lambda rdd: order.append(("last", rdd.count())))
    run_outputs(ssc, 2)
    assert order == [("first", [1]), ("second", [-1]), ("after pprint", True), ("last", 1),
                     ("first", [2]), ("second", [-2]), ("after pprint", True), ("last", 1)]


def test_start_without_outputs_raises(ssc: StreamingContext) -> None:
    ssc.queueStream([[1]]).map(str)
    with pytest.raises(ValueError, match="No output operations registered"):
        ssc.start()
