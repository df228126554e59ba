"""``same_function``: what makes two batches' functions the same, table-driven."""

from __future__ import annotations

import functools
import operator
from typing import Any, Callable

import pytest

from dstream.scheduler.same_code import same_function


def adder(n: Any) -> Callable[[Any], Any]:
    return lambda x: x + n


def combiner(create: Any, merge: Any) -> Callable[[Any], Any]:
    """As ``combineByKey`` builds its map side: a fresh closure over the user's functions."""
    return lambda it: [create(merge(v, v)) for v in it]


def pipeline(func: Any, prev: Any) -> Callable[[int, Any], Any]:
    """As ``PipelinedRDD`` folds two functions: a fresh closure over both."""
    def pipeline_func(split: int, iterator: Any) -> Any:
        return func(split, iter(prev(split, iterator)))
    return pipeline_func


def recursive() -> Callable[[int], int]:
    def countdown(n: int) -> int:
        return 0 if n == 0 else countdown(n - 1)
    return countdown


class Holder:
    def method(self, x: int) -> int:
        return x


shared_dict: dict[str, int] = {}
user_merge = operator.add
holder = Holder()
map_side = lambda _, it: map(str.upper, it)  # noqa: E731 - one object, as a DStream keeps it

CASES: list[tuple[str, Callable[[], Any], Callable[[], Any], bool]] = [
    ("the same object", lambda: map_side, lambda: map_side, True),
    ("same code, equal captured int", lambda: adder(1), lambda: adder(1), True),
    ("same code, another captured int (a batch time)", lambda: adder(1000), lambda: adder(2000), False),
    ("captured str by value", lambda: adder("a"), lambda: adder("a"), True),
    ("captured float nan (never equal)", lambda: adder(float("nan")), lambda: adder(float("nan")), False),
    ("captured int vs bool", lambda: adder(1), lambda: adder(True), False),
    ("captured the same dict", lambda: adder(shared_dict), lambda: adder(shared_dict), True),
    ("captured equal but distinct dicts", lambda: adder({}), lambda: adder({}), False),
    ("captured tuples of plain values", lambda: adder((1, "a")), lambda: adder((1, "a")), True),
    ("fresh closures over the same user function",
     lambda: combiner(operator.neg, user_merge), lambda: combiner(operator.neg, user_merge), True),
    ("fresh closures over another user function",
     lambda: combiner(operator.neg, operator.add), lambda: combiner(operator.neg, operator.sub), False),
    ("folded pipelines, same parts",
     lambda: pipeline(map_side, map_side), lambda: pipeline(map_side, map_side), True),
    ("folded pipelines, a part differs",
     lambda: pipeline(map_side, adder(1)), lambda: pipeline(map_side, adder(2)), False),
    ("two lambdas with the same text (two code objects)",
     lambda: (lambda x: x), lambda: (lambda x: x), False),
    ("a recursive closure", recursive, recursive, True),
    ("bound methods of the same object", lambda: holder.method, lambda: holder.method, True),
    ("bound methods of two objects", lambda: Holder().method, lambda: Holder().method, False),
    ("partials, same parts", lambda: functools.partial(operator.add, 1),
     lambda: functools.partial(operator.add, 1), True),
    ("partials, other keyword", lambda: functools.partial(int, base=2),
     lambda: functools.partial(int, base=8), False),
    ("a builtin and a lambda", lambda: len, lambda: (lambda x: len(x)), False),
]


@pytest.mark.parametrize("make_a, make_b, same", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_same_function(make_a: Callable[[], Any], make_b: Callable[[], Any], same: bool) -> None:
    a, b = make_a(), make_b()
    assert same_function(a, b) is same
    assert same_function(b, a) is same


def test_defaults_count() -> None:
    def make(d: int) -> Callable[..., int]:
        def f(x: int = d) -> int:
            return x
        return f
    assert same_function(make(1), make(1))
    assert not same_function(make(1), make(2))
