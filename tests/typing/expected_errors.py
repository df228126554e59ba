"""Typing tests: misuses the type check must report. A line ending in ``# E: <code>`` must get
an error with that code from mypy, and no other line may get one (``tests/test_typing.py``).
Checked, not run.
"""

from __future__ import annotations

from dstream import RDD, DStream, State, StateSpec, StreamingContext


def pair_operations_need_pairs(ssc: StreamingContext) -> None:
    lines = ssc.socketTextStream("localhost", 9999)
    pairs = lines.map(lambda line: (line, 1))
    lines.reduceByKey(lambda a, b: a + b)  # E: misc
    lines.join(pairs)  # E: misc, arg-type
    pairs.join(lines)  # E: arg-type
    lines.groupByKeyAndWindow(30, 10)  # E: misc
    lines.updateStateByKey(lambda values, state: state)  # E: misc


def functions_must_take_the_elements(ssc: StreamingContext) -> None:
    numbers = ssc.queueStream([[1, 2, 3]])
    numbers.map(str.upper)  # E: arg-type
    numbers.filter(lambda n: n.startswith("1"))  # E: attr-defined
    numbers.reduce(lambda a, b: str(a + b))  # E: arg-type, return-value


def functions_must_return_what_the_operator_needs(ssc: StreamingContext) -> None:
    words = ssc.queueStream([["a", "b"]])
    pairs = words.map(lambda word: (word, 1))
    words.transform(lambda rdd: rdd.collect())  # E: arg-type, return-value
    words.withEventTime(lambda word: word, 5)  # E: arg-type, return-value
    pairs.mapValues(len)  # E: arg-type
    # an output's function returns nothing: a result would be dropped
    words.foreachRDD(lambda rdd: rdd.count())  # E: arg-type


def windows_keep_the_element_type(ssc: StreamingContext) -> None:
    words = ssc.queueStream([["a", "b"]])
    pairs = words.map(lambda word: (word, 1))
    words.reduceByKeyAndWindow(lambda a, b: a + b, None, 30, 10)  # E: misc
    pairs.window(30, 10).join(words.window(30, 10))  # E: arg-type


def results_have_the_produced_type(ssc: StreamingContext) -> None:
    words = ssc.queueStream([["a", "b"]])
    lengths: DStream[int] = words.map(len)
    counted: DStream[tuple[str, str]] = words.countByValue()  # E: assignment
    lengths.map(lambda n: n.upper())  # E: attr-defined


def outputs_take_the_stream_rdds(ssc: StreamingContext) -> None:
    numbers = ssc.queueStream([[1, 2, 3]])

    def show_words(rdd: RDD[str]) -> None:
        print(rdd.collect())

    numbers.foreachRDD(show_words)  # E: arg-type


def state_specs_match_the_stream(ssc: StreamingContext) -> None:
    pairs = ssc.queueStream([[("a", 1)]])

    def by_int_key(key: int, value: int | None, state: State[int]) -> int:
        return key

    def drops_timeouts(key: str, value: int, state: State[int]) -> int:
        return value

    pairs.mapWithState(StateSpec.function(by_int_key))  # E: arg-type
    pairs.mapWithState(StateSpec.function(drops_timeouts))  # E: arg-type
