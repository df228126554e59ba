"""Fixtures of the batch-engine tests: one Context per module and master.

``ctx`` is module-scoped and parametrized over three masters: ``local`` runs tasks in the
driver's thread without pickling, ``local[2]`` in two worker processes fed over pipes,
``dask-local[2]`` as Dask tasks on a throwaway two-worker Dask cluster. Only
one Context may be active in a process, so a module that makes its own Contexts (lifecycle,
faults) does not use ``ctx``: pytest tears a module's fixture down before the next module runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from dstream import Context

MASTERS = ["local", "local[2]", "dask-local[2]"]

#: hypothesis settings for engine properties: no example database in the work tree, no deadline
#: (the first example on a fresh worker process may import modules)
PROPERTY_SETTINGS = settings(deadline=None, database=None)


@pytest.fixture(scope="module", params=MASTERS, ids=["local", "local2", "dask2"])
def ctx(request: pytest.FixtureRequest) -> Iterator[Context]:
    """A Context shared by the tests of one module, on each master in turn."""
    context = Context(request.param, f"test-{request.module.__name__.rsplit('.', 1)[-1]}")
    try:
        yield context
    finally:
        context.stop()


def examples(ctx: Context, local: int, processes: int) -> settings:
    """Hypothesis settings with ``local`` examples in the driver's thread and fewer with
    worker processes (where each example pays for pickling and pipes)."""
    return settings(PROPERTY_SETTINGS, max_examples=local if ctx.master == "local" else processes)


def grouped(pairs: Any) -> list[tuple[Any, list[Any]]]:
    """``groupByKey``-style output as ``(key, sorted values)`` for comparison, in an order
    that works for keys of mixed types."""
    return sorted(((k, sorted(vs)) for k, vs in pairs), key=repr)


def reference_groups(pairs: list[tuple[Any, Any]]) -> dict[Any, list[Any]]:
    """Each key's values in input order (the plain-Python reference of grouping)."""
    groups: dict[Any, list[Any]] = {}
    for k, v in pairs:
        groups.setdefault(k, []).append(v)
    return groups
