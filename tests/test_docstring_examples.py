"""Every public method and property of the API classes shows a runnable example.

STYLE.md item 4: a ``>>>`` example in every public docstring, run by ``pytest --doctest-modules``.
This test fails when a public method or property of one of ``CLASSES`` (inherited ones included,
e.g. ``DiskStore``'s from ``CheckpointStore``), or one of ``ENTRY_POINTS``, has no
``>>>`` in its docstring; and when an example of a Kafka or Redis API does not run against the
real server (the doctests that name ``brokers`` or ``redis_url`` get one, see conftest.py).

The service's public entry points are what ``dstream.service`` exports (``run_standalone``,
``create_app``, ``ContextView``) and the ``dstream`` command itself (``cli.main``); the
daemon class behind the command is not API.

``python -m tests.test_docstring_examples`` prints the count per class.
"""

from __future__ import annotations

import inspect

import pytest

from dstream import (RDD, Accumulator, AccumulatorParam, Broadcast, Conf, Context, KafkaUtils,
                     Receiver, StatCounter, StorageLevel)
from dstream.checkpoint import CheckpointStore, DiskStore, RedisStore, open_store
from dstream.service import ContextView, create_app, run_standalone
from dstream.service.cli import main

CLASSES = [RDD, Context, Conf, Broadcast, Accumulator, AccumulatorParam, StorageLevel, StatCounter,
           KafkaUtils, Receiver, CheckpointStore, DiskStore, RedisStore, ContextView]
#: functions users call (``main`` is the click command; its docstring is the callback's)
ENTRY_POINTS = [open_store, main.callback, run_standalone, create_app]
#: members whose examples must reach a real server: the name the doctest uses for it
REAL_SERVER = {KafkaUtils: "brokers", RedisStore: "redis_url"}
#: RedisStore members that never talk to the server (key names, the constructor's options)
OFFLINE = {RedisStore: {"key", "log_key"}}


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


@pytest.mark.parametrize("function", ENTRY_POINTS, ids=lambda f: f.__name__)
def test_every_entry_point_has_an_example(function: object) -> None:
    assert has_example(function), f"{function.__qualname__} has no >>> example"


@pytest.mark.parametrize("cls", list(REAL_SERVER), ids=lambda c: c.__name__)
def test_the_examples_of_server_apis_run_against_the_server(cls: type) -> None:
    name = REAL_SERVER[cls]
    offline = [n for n, member in public_members(cls).items()
               if n not in OFFLINE.get(cls, set()) and name not in (inspect.getdoc(member) or "")]
    assert not offline, f"{cls.__name__}: examples that do not use {name}: {', '.join(offline)}"


if __name__ == "__main__":
    for cls in CLASSES:
        members = public_members(cls)
        with_example = [name for name, m in members.items() if has_example(m)]
        without = [name for name in members if name not in with_example]
        print(f"{cls.__name__}: {len(with_example)} of {len(members)}; without: {', '.join(without)}")
    for function in ENTRY_POINTS:
        print(f"{function.__qualname__}: {'an example' if has_example(function) else 'no example'}")
