"""Argument errors surface where the graph is defined (``dstream.streaming.arguments``): a
non-callable function, a wrong arity where ``inspect.signature`` can tell, a non-positive
duration; each message names the operator, the value and the rule. One row per operator."""

from __future__ import annotations

import functools
import operator
from typing import Any

import pytest

from dstream import Context, StreamingContext
from dstream.streaming import StateSpec

Q = "queueStream-0"
TWO = lambda a, b: a  # noqa: E731 - a function of the wrong arity for one-argument operators
ONE = lambda a: a  # noqa: E731


def pairs_with(ssc: StreamingContext) -> Any:
    return ssc.queueStream([[("a", 1)]])


# (id, call on (ssc, stream), exception type, message regex)
ERRORS = [
    # non-callable functions
    ("map", lambda ssc, s: s.map(5), TypeError, rf"DStream\.map on {Q}: f must be callable, got int 5"),
    ("flatMap", lambda ssc, s: s.flatMap("x"), TypeError,
     rf"DStream\.flatMap on {Q}: f must be callable, got str 'x'"),
    ("filter", lambda ssc, s: s.filter(None), TypeError,
     rf"DStream\.filter on {Q}: f must be callable, got NoneType None"),
    ("mapPartitions", lambda ssc, s: s.mapPartitions([]), TypeError,
     rf"DStream\.mapPartitions on {Q}: f must be callable, got list \[\]"),
    ("mapPartitionsWithIndex", lambda ssc, s: s.mapPartitionsWithIndex(1), TypeError,
     rf"DStream\.mapPartitionsWithIndex on {Q}: f must be callable, got int 1"),
    ("reduce", lambda ssc, s: s.reduce(0), TypeError, rf"DStream\.reduce on {Q}: func must be callable"),
    ("transform", lambda ssc, s: s.transform(3), TypeError,
     rf"DStream\.transform on {Q}: func must be callable, got int 3"),
    ("transformWith", lambda ssc, s: s.transformWith(3, s), TypeError,
     rf"DStream\.transformWith on {Q}: func must be callable, got int 3"),
    ("foreachRDD", lambda ssc, s: s.foreachRDD("print"), TypeError,
     rf"DStream\.foreachRDD on {Q}: func must be callable, got str 'print'"),
    ("mapValues", lambda ssc, s: s.mapValues(2), TypeError,
     rf"DStream\.mapValues on {Q}: f must be callable"),
    ("flatMapValues", lambda ssc, s: s.flatMapValues(2), TypeError,
     rf"DStream\.flatMapValues on {Q}: f must be callable"),
    ("combineByKey", lambda ssc, s: s.combineByKey(list, 1, operator.add), TypeError,
     rf"DStream\.combineByKey on {Q}: mergeValue must be callable, got int 1"),
    ("reduceByKey", lambda ssc, s: s.reduceByKey("+"), TypeError,
     rf"DStream\.reduceByKey on {Q}: func must be callable, got str '\+'"),
    ("partitionBy", lambda ssc, s: s.partitionBy(2, 7), TypeError,
     rf"DStream\.partitionBy on {Q}: partitionFunc must be callable or None, got int 7"),
    ("reduceByKeyAndWindow func", lambda ssc, s: s.reduceByKeyAndWindow(1, None, 2, 1), TypeError,
     rf"DStream\.reduceByKeyAndWindow on {Q}: func must be callable, got int 1"),
    ("reduceByKeyAndWindow invFunc", lambda ssc, s: s.reduceByKeyAndWindow(operator.add, "-", 2, 1),
     TypeError, rf"DStream\.reduceByKeyAndWindow on {Q}: invFunc must be callable or None, got str '-'"),
    ("reduceByKeyAndWindow filterFunc",
     lambda ssc, s: s.reduceByKeyAndWindow(operator.add, operator.sub, 2, 1, filterFunc=True),
     TypeError, rf"DStream\.reduceByKeyAndWindow on {Q}: filterFunc must be callable or None, got bool True"),
    ("reduceByWindow", lambda ssc, s: s.reduceByWindow(sum, 5, 2, 1), TypeError,
     rf"DStream\.reduceByWindow on {Q}: invReduceFunc must be callable or None, got int 5"),
    ("updateStateByKey", lambda ssc, s: s.updateStateByKey(42), TypeError,
     rf"DStream\.updateStateByKey on {Q}: updateFunc must be callable, got int 42"),
    ("saveToKafka", lambda ssc, s: s.saveToKafka("127.0.0.1:9092", "t", valueSerializer="utf-8"),
     TypeError, rf"DStream\.saveToKafka on {Q}: valueSerializer must be callable or None, got str 'utf-8'"),
    ("StateSpec.function", lambda ssc, s: StateSpec.function(9), TypeError,
     r"StateSpec\.function: func must be callable, got int 9"),
    ("StreamingContext.transform", lambda ssc, s: ssc.transform([s], 0), TypeError,
     r"StreamingContext\.transform: transformFunc must be callable, got int 0"),
    ("StreamingContext.getOrCreate", lambda ssc, s: StreamingContext.getOrCreate("unused", ssc), TypeError,
     r"StreamingContext\.getOrCreate: setupFunc must be callable, got StreamingContext"),
    ("StreamingContext.getActiveOrCreate", lambda ssc, s: StreamingContext.getActiveOrCreate(None, 1),
     TypeError, r"StreamingContext\.getActiveOrCreate: setupFunc must be callable, got int 1"),
    ("StreamingContext.socketStream", lambda ssc, s: ssc.socketStream("127.0.0.1", 9, "lines"),
     TypeError, r"StreamingContext\.socketStream: converter must be callable, got str 'lines'"),
    ("StreamingContext.fileStream", lambda ssc, s: ssc.fileStream("in", filter="*.txt"), TypeError,
     r"StreamingContext\.fileStream: filter must be callable or None, got str '\*\.txt'"),
    # wrong arity, where the signature tells
    ("map arity", lambda ssc, s: s.map(TWO), TypeError,
     rf"DStream\.map on {Q}: f must take 1 positional argument, got <lambda>\(a, b\)"),
    ("flatMap arity", lambda ssc, s: s.flatMap(lambda: []), TypeError,
     rf"DStream\.flatMap on {Q}: f must take 1 positional argument, got .*<lambda>\(\)"),
    ("filter arity", lambda ssc, s: s.filter(TWO), TypeError, rf"DStream\.filter on {Q}: f must take 1"),
    ("mapPartitions arity", lambda ssc, s: s.mapPartitions(TWO), TypeError,
     rf"DStream\.mapPartitions on {Q}: f must take 1"),
    ("mapPartitionsWithIndex arity", lambda ssc, s: s.mapPartitionsWithIndex(ONE), TypeError,
     rf"DStream\.mapPartitionsWithIndex on {Q}: f must take 2 positional arguments, got <lambda>\(a\)"),
    ("reduce arity", lambda ssc, s: s.reduce(ONE), TypeError, rf"DStream\.reduce on {Q}: func must take 2"),
    ("transform arity", lambda ssc, s: s.transform(lambda a, b, c: a), TypeError,
     rf"DStream\.transform on {Q} takes a function of 1 argument\(s\) \(rdd\) or 2 \(time, rdd\)"),
    ("transformWith arity", lambda ssc, s: s.transformWith(ONE, s), TypeError,
     rf"DStream\.transformWith on {Q} takes a function of 2 argument\(s\)"),
    ("foreachRDD arity", lambda ssc, s: s.foreachRDD(lambda: None), TypeError,
     rf"DStream\.foreachRDD on {Q} takes a function of 1 argument\(s\)"),
    ("mapValues arity", lambda ssc, s: s.mapValues(TWO), TypeError,
     rf"DStream\.mapValues on {Q}: f must take 1"),
    ("flatMapValues arity", lambda ssc, s: s.flatMapValues(TWO), TypeError,
     rf"DStream\.flatMapValues on {Q}: f must take 1"),
    ("combineByKey arity", lambda ssc, s: s.combineByKey(list, ONE, operator.add), TypeError,
     rf"DStream\.combineByKey on {Q}: mergeValue must take 2 positional arguments"),
    ("reduceByKey arity", lambda ssc, s: s.reduceByKey(ONE), TypeError,
     rf"DStream\.reduceByKey on {Q}: func must take 2 positional arguments, got <lambda>\(a\)"),
    ("partitionBy arity", lambda ssc, s: s.partitionBy(2, TWO), TypeError,
     rf"DStream\.partitionBy on {Q}: partitionFunc must take 1"),
    ("reduceByKeyAndWindow arity", lambda ssc, s: s.reduceByKeyAndWindow(operator.add, ONE, 2, 1),
     TypeError, rf"DStream\.reduceByKeyAndWindow on {Q}: invFunc must take 2"),
    ("reduceByWindow arity", lambda ssc, s: s.reduceByWindow(ONE, None, 2, 1), TypeError,
     rf"DStream\.reduceByWindow on {Q}: reduceFunc must take 2"),
    ("updateStateByKey arity", lambda ssc, s: s.updateStateByKey(lambda values: 0), TypeError,
     rf"DStream\.updateStateByKey on {Q}: updateFunc must take 2 positional arguments, "
     r"got <lambda>\(values\)"),
    ("StateSpec.function arity", lambda ssc, s: StateSpec.function(TWO), TypeError,
     r"take \(key, value, state\)"),
    ("StreamingContext.getOrCreate arity", lambda ssc, s: StreamingContext.getOrCreate("unused", ONE),
     TypeError,
     r"StreamingContext\.getOrCreate: setupFunc must take 0 positional arguments, got <lambda>\(a\)"),
    ("StreamingContext.fileStream arity", lambda ssc, s: ssc.fileStream("in", TWO), TypeError,
     r"StreamingContext\.fileStream: filter must take 1 positional argument"),
    # durations: not a number, not positive, not a multiple of the slide
    ("window", lambda ssc, s: s.window(0), ValueError,
     rf"DStream\.window on {Q}: windowDuration must be positive, got 0 s"),
    ("window slide", lambda ssc, s: s.window(2, -1), ValueError,
     rf"DStream\.window on {Q}: slideDuration must be positive, got -1 s"),
    ("window type", lambda ssc, s: s.window("2"), TypeError,
     rf"DStream\.window on {Q}: windowDuration must be a number of seconds, got str '2'"),
    ("window multiple", lambda ssc, s: s.window(1.5), ValueError,
     rf"DStream\.window on {Q}: windowDuration 1.5 s must be a multiple of the parent stream's "
     r"slide \(batch\) duration \(1 s\)"),
    ("reduceByKeyAndWindow duration", lambda ssc, s: s.reduceByKeyAndWindow(operator.add, None, -2, 1),
     ValueError, rf"DStream\.reduceByKeyAndWindow on {Q}: windowDuration must be positive, got -2 s"),
    ("reduceByWindow duration", lambda ssc, s: s.reduceByWindow(operator.add, None, 2, 0), ValueError,
     rf"DStream\.reduceByWindow on {Q}: slideDuration must be positive, got 0 s"),
    ("countByWindow duration", lambda ssc, s: s.countByWindow(0, 1), ValueError,
     rf"DStream\.countByWindow on {Q}: windowDuration must be positive, got 0 s"),
    ("countByWindow multiple", lambda ssc, s: s.countByWindow(3, 1.5), ValueError,
     rf"DStream\.countByWindow on {Q}: slideDuration 1.5 s must be a multiple"),
    ("countByValueAndWindow duration", lambda ssc, s: s.countByValueAndWindow(2, -1), ValueError,
     rf"DStream\.countByValueAndWindow on {Q}: slideDuration must be positive, got -1 s"),
    ("groupByKeyAndWindow duration", lambda ssc, s: s.groupByKeyAndWindow(0.0, 1), ValueError,
     rf"DStream\.groupByKeyAndWindow on {Q}: windowDuration must be positive, got 0.0 s"),
    ("checkpoint", lambda ssc, s: s.checkpoint(0), ValueError,
     rf"DStream\.checkpoint on {Q}: interval must be positive, got 0 s"),
    ("checkpoint multiple", lambda ssc, s: s.checkpoint(2.5), ValueError,
     rf"DStream\.checkpoint on {Q}: interval 2.5 s must be a multiple of the parent stream's slide duration"),
    ("StreamingContext.remember", lambda ssc, s: ssc.remember(-5), ValueError,
     r"StreamingContext\.remember: duration must be positive, got -5 s"),
    ("StreamingContext.remember type", lambda ssc, s: ssc.remember(None), TypeError,
     r"StreamingContext\.remember: duration must be a number of seconds, got NoneType None"),
    ("StateSpec.timeout", lambda ssc, s: StateSpec.function(lambda k, v, st: v).timeout(-1), ValueError,
     r"StateSpec\.timeout: seconds must be positive, got -1 s"),
    ("StreamingContext.awaitTermination", lambda ssc, s: ssc.awaitTermination("5"), TypeError,
     r"StreamingContext\.awaitTermination: timeout must be a number of seconds or None, got str '5'"),
    ("StreamingContext.awaitTerminationOrTimeout", lambda ssc, s: ssc.awaitTerminationOrTimeout([]),
     TypeError, r"StreamingContext\.awaitTerminationOrTimeout: timeout must be a number of seconds or None"),
    ("repartition", lambda ssc, s: s.repartition(0), ValueError,
     rf"DStream\.repartition on {Q}: numPartitions must be an int >= 1, got 0"),
]


@pytest.mark.parametrize("call, error, message", [r[1:] for r in ERRORS], ids=[r[0] for r in ERRORS])
def test_argument_error_at_definition(ssc: StreamingContext, call: Any, error: type, message: str) -> None:
    stream = pairs_with(ssc)
    with pytest.raises(error, match=message):
        call(ssc, stream)
    assert list(ssc._graph.streams) == [Q]      # nothing half-defined was registered


@pytest.mark.parametrize("bad", [0, -1, 0.0001, "1"], ids=["zero", "negative", "below 1 ms", "str"])
def test_batch_duration_is_checked(ctx: Context, bad: Any) -> None:
    error = TypeError if isinstance(bad, str) else ValueError
    with pytest.raises(error, match=rf"StreamingContext: batchDuration must be .*, got .*{bad!r}"):
        StreamingContext(ctx, bad)


class AddOne:
    def __call__(self, x: int) -> int:
        return x + 1


class Offsets:
    def __init__(self, by: int) -> None:
        self.by = by

    def shift(self, x: int) -> int:
        return x + self.by


# functions whose form only inspect.signature reads right: all accepted, and they run
ACCEPTED = [
    ("partial", lambda s: s.map(functools.partial(operator.add, 10)), [[11, 12]]),
    ("callable object", lambda s: s.map(AddOne()), [[2, 3]]),
    ("bound method", lambda s: s.map(Offsets(5).shift), [[6, 7]]),
    ("builtin type", lambda s: s.map(str), [["1", "2"]]),
    ("builtin without signature", lambda s: s.reduce(max), [[2]]),
    ("defaults", lambda s: s.map(lambda x, y=1: x + y), [[2, 3]]),
    ("varargs", lambda s: s.reduce(lambda *xs: sum(xs)), [[3]]),
    ("partial of two",
     lambda s: s.mapPartitionsWithIndex(functools.partial(lambda k, i, it: [k + sum(it)], 100)), [[103]]),
]


@pytest.mark.parametrize("func, expected", [r[1:] for r in ACCEPTED], ids=[r[0] for r in ACCEPTED])
def test_functions_read_through_their_signature(run: Any, func: Any, expected: list) -> None:
    assert run([[1, 2]], func) == expected
