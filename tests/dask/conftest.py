"""Fixtures of the Dask cluster-mode tests: one ``dask-local[2]`` Context per module.

A real LocalCluster (two single-threaded worker processes under nannies) is started once per
module (about 1.5 s) and shared by its tests; it is closed before the next module runs, so a
module may make its own Context instead (only one Context may be active in a process), as the
streaming fault test does with ``dask-local[3]``. Tests that kill a worker leave the cluster
whole: the nanny starts a replacement.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dstream import Context
from tests.waiting import until

MASTER = "dask-local[2]"


@pytest.fixture(scope="module")
def ctx() -> Iterator[Context]:
    context = Context(MASTER, "dask-tests")
    try:
        yield context
    finally:
        context.stop()


@pytest.fixture
def whole_cluster(ctx: Context) -> Iterator[Context]:
    """``ctx`` with both workers up before and after the test (a nanny replaces a killed
    worker in about a second; later tests should not see the cluster short of one), and
    known to the block store (its list of workers is kept for a second)."""
    ctx._backend._client.wait_for_workers(2, timeout=60)
    ctx._backend._blocks.workers(refresh=True)
    yield ctx
    ctx._backend._client.wait_for_workers(2, timeout=60)
