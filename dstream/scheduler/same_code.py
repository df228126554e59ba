"""Whether two functions compute the same thing: the same code over the same captured values.

A streaming job builds its RDDs again for every batch, and with them new function objects
(``combineByKey``'s map-side combine is a fresh closure each time) over the same code and the
same user functions. ``same_function`` tells those apart from functions that differ: it
compares code objects, globals, defaults and the closures' cells, cell by cell. A captured
function is compared the same way; a captured number, string, bytes or ``None`` by value (so
a batch's time captured in a closure makes two batches' functions differ); anything else (a
dict, a broadcast, a user's object) must be the very same object.

>>> def adder(n):
...     return lambda x: x + n
>>> same_function(adder(1), adder(1)), same_function(adder(1), adder(2))
(True, False)
>>> import functools, operator
>>> same_function(functools.partial(operator.add, 1), functools.partial(operator.add, 1))
True
>>> same_function(lambda x: x, lambda x: x)      # two lambdas: two code objects
False
"""

from __future__ import annotations

import functools
import types
from typing import Any

__all__ = ["same_function", "same_value"]

_BY_VALUE = (int, float, complex, str, bytes, bool, type(None))


def same_function(f: Any, g: Any) -> bool:
    """Whether calling ``f`` and ``g`` runs the same code on the same captured values."""
    return _same(f, g, set())


def same_value(a: Any, b: Any) -> bool:
    """``a`` and ``b`` are the same object, equal plain values (numbers, strings, bytes,
    ``None``, tuples of them) or functions that ``same_function`` finds the same.

    >>> same_value((1, "a"), (1, "a")), same_value({}, {})
    (True, False)
    """
    return _same(a, b, set())


def _same(a: Any, b: Any, seen: set[tuple[int, int]]) -> bool:
    if a is b:
        return True
    kind = type(a)
    if kind is not type(b):
        return False
    if kind in _BY_VALUE:
        return bool(a == b)
    pair = (id(a), id(b))
    if pair in seen:         # a recursive closure: what is being compared up the stack
        return True
    seen.add(pair)
    if kind is tuple:
        return len(a) == len(b) and all(_same(x, y, seen) for x, y in zip(a, b))
    if kind is types.FunctionType:
        return _same_plain_function(a, b, seen)
    if kind is types.MethodType:
        return a.__self__ is b.__self__ and _same(a.__func__, b.__func__, seen)
    if kind is functools.partial:
        return (_same(a.func, b.func, seen) and _same(a.args, b.args, seen)
                and a.keywords.keys() == b.keywords.keys()
                and all(_same(v, b.keywords[k], seen) for k, v in a.keywords.items()))
    return False


def _same_plain_function(f: types.FunctionType, g: types.FunctionType,
                         seen: set[tuple[int, int]]) -> bool:
    if f.__code__ is not g.__code__ or f.__globals__ is not g.__globals__:
        return False
    if not _same(f.__defaults__, g.__defaults__, seen):
        return False
    if (f.__kwdefaults__ or g.__kwdefaults__) and not _same_dict(f.__kwdefaults__ or {},
                                                                 g.__kwdefaults__ or {}, seen):
        return False
    cells_f, cells_g = f.__closure__ or (), g.__closure__ or ()
    return len(cells_f) == len(cells_g) and all(
        _same_cell(x, y, seen) for x, y in zip(cells_f, cells_g))


def _same_cell(x: types.CellType, y: types.CellType, seen: set[tuple[int, int]]) -> bool:
    try:
        a = x.cell_contents
    except ValueError:           # an empty cell (a name not bound yet)
        a = _EMPTY
    try:
        b = y.cell_contents
    except ValueError:
        b = _EMPTY
    return _same(a, b, seen)


def _same_dict(a: dict[str, Any], b: dict[str, Any], seen: set[tuple[int, int]]) -> bool:
    return a.keys() == b.keys() and all(_same(v, b[k], seen) for k, v in a.items())


_EMPTY = object()
