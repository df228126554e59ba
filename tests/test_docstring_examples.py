"""Every public method and property of the batch engine's API classes shows a runnable example.

STYLE.md item 4: a ``>>>`` example in every public docstring, run by ``pytest --doctest-modules``.
This test fails when a public method or property of one of ``CLASSES`` (inherited ones included,
e.g. ``RDD``'s pair operations from ``PairOperations``) has no ``>>>`` in its docstring.

``python -m tests.test_docstring_examples`` prints the count per class.
"""

from __future__ import annotations

import inspect

import pytest

from dstream import (RDD, Accumulator, AccumulatorParam, Broadcast, Conf, Context, StatCounter,
                     StorageLevel)

CLASSES = [RDD, Context, Conf, Broadcast, Accumulator, AccumulatorParam, StorageLevel, StatCounter]


def public_members(cls: type) -> dict[str, object]:
    """Public methods and properties of ``cls`` and its bases (not ``object``'s or ``Generic``'s),
    as found on the class that defines them."""
    members: dict[str, object] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__ in ("builtins", "typing"):
            continue
        for name, attr in vars(klass).items():
            if name.startswith("_"):
                continue
            if isinstance(attr, (staticmethod, classmethod)):
                attr = attr.__func__
            if inspect.isfunction(attr) or isinstance(attr, property):
                members[name] = attr
            else:
                members.pop(name, None)     # a constant (e.g. StorageLevel.MEMORY_ONLY)
    return dict(sorted(members.items()))


def has_example(member: object) -> bool:
    return ">>>" in (inspect.getdoc(member) or "")


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_public_member_has_an_example(cls: type) -> None:
    missing = [name for name, member in public_members(cls).items() if not has_example(member)]
    assert not missing, f"{cls.__name__}: public members without a >>> example: {', '.join(missing)}"


if __name__ == "__main__":
    for cls in CLASSES:
        members = public_members(cls)
        with_example = [name for name, m in members.items() if has_example(m)]
        without = [name for name in members if name not in with_example]
        print(f"{cls.__name__}: {len(with_example)} of {len(members)}; without: {', '.join(without)}")
