"""Fixtures for the checkpoint store tests: the same contract on disk and in Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dstream.checkpoint.disk import DiskStore
from dstream.checkpoint.store import CheckpointStore


@pytest.fixture
def disk_store(tmp_path: Path) -> Iterator[DiskStore]:
    """A DiskStore in a fresh temporary directory."""
    with DiskStore(tmp_path / "ckpt") as store:
        yield store


@pytest.fixture(params=["disk", "redis"])
def any_store(request: pytest.FixtureRequest) -> CheckpointStore:
    """Each store implementation in turn (Redis on the session's real server)."""
    return request.getfixturevalue(f"{request.param}_store")
