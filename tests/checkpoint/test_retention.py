"""Generations: the last few kept, the newest readable one loaded, bad ones reported."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from dstream.checkpoint.disk import DiskStore
from dstream.checkpoint.errors import (
    CheckpointNotFoundError,
    CheckpointStoreUnavailable,
    CorruptCheckpointError,
)
from dstream.checkpoint.redis_store import RedisStore
from dstream.checkpoint.retention import (
    generation_name,
    list_generations,
    load_newest,
    save_generation,
)
from dstream.checkpoint.store import CheckpointStore
from tests.servers import free_port


def _corrupt(store: CheckpointStore, name: str) -> None:
    """Flip the last byte of a stored object, on disk or in Redis."""
    if isinstance(store, DiskStore):
        path = Path(store.directory, *name.split("/"))
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
    elif isinstance(store, RedisStore):
        data = bytearray(store.client.get(store.key(name)))
        data[-1] ^= 0xFF
        store.client.set(store.key(name), bytes(data))
    else:  # pragma: no cover
        raise TypeError(store)


def test_keeps_the_newest_three_by_default(any_store: CheckpointStore) -> None:
    for seq in range(1, 8):
        assert save_generation(any_store, "meta", seq, b"%d" % seq) == generation_name("meta", seq)
    assert list_generations(any_store, "meta") == [5, 6, 7]
    assert any_store.list("meta/") == [f"meta/{s:020d}" for s in (5, 6, 7)]


def test_retained_count_and_number_ordering(any_store: CheckpointStore) -> None:
    for seq in (9, 10, 11, 100):
        save_generation(any_store, "state/op-1", seq, b"x", retained=2)
    assert list_generations(any_store, "state/op-1") == [11, 100]


def test_kinds_do_not_touch_each_other(any_store: CheckpointStore) -> None:
    save_generation(any_store, "state/a", 1, b"a", retained=1)
    save_generation(any_store, "state/ab", 1, b"ab", retained=1)
    save_generation(any_store, "state/a", 2, b"a2", retained=1)
    any_store.save("state/a/notes", b"not a generation")
    assert list_generations(any_store, "state/ab") == [1]
    assert list_generations(any_store, "state/a") == [2]
    assert any_store.exists("state/a/notes")


def test_just_saved_generation_is_never_deleted(any_store: CheckpointStore) -> None:
    for seq in (5, 6, 7):
        save_generation(any_store, "meta", seq, b"new")
    save_generation(any_store, "meta", 2, b"older number", retained=3)
    assert list_generations(any_store, "meta") == [2, 6, 7]


def test_newest_is_loaded(any_store: CheckpointStore) -> None:
    for seq in (1, 2, 3):
        save_generation(any_store, "meta", seq, b"batch %d" % seq)
    assert load_newest(any_store, "meta") == (3, b"batch 3")


def test_corrupt_newest_falls_back_to_the_previous(any_store: CheckpointStore) -> None:
    for seq in (1, 2, 3):
        save_generation(any_store, "meta", seq, b"batch %d" % seq)
    _corrupt(any_store, generation_name("meta", 3))
    reports: list[tuple[str, Exception]] = []
    assert load_newest(any_store, "meta", lambda n, e: reports.append((n, e))) == (2, b"batch 2")
    [(name, error)] = reports
    assert name == "meta/00000000000000000003"
    assert isinstance(error, CorruptCheckpointError)
    assert "checksum mismatch" in str(error)


def test_undecodable_newest_falls_back(any_store: CheckpointStore) -> None:
    save_generation(any_store, "meta", 1, json.dumps({"batch": 1}).encode())
    save_generation(any_store, "meta", 2, b'{"batch": ')
    reports: list[tuple[str, Exception]] = []
    found = load_newest(any_store, "meta", lambda n, e: reports.append((n, e)), decode=json.loads)
    assert found == (1, {"batch": 1})
    assert [(n, type(e)) for n, e in reports] == [("meta/00000000000000000002", json.JSONDecodeError)]


def test_nothing_readable_gives_none(any_store: CheckpointStore, caplog: pytest.LogCaptureFixture) -> None:
    assert load_newest(any_store, "meta") is None
    for seq in (1, 2):
        save_generation(any_store, "meta", seq, b"x")
        _corrupt(any_store, generation_name("meta", seq))
    with caplog.at_level(logging.WARNING, logger="checkpoint"):
        assert load_newest(any_store, "meta") is None
    assert caplog.text.count("cannot be used, trying an older one") == 2


def test_generation_deleted_after_listing_is_skipped(disk_store: DiskStore) -> None:
    for seq in (1, 2):
        save_generation(disk_store, "meta", seq, b"%d" % seq)

    class Vanishing(DiskStore):
        def load(self, name: str) -> bytes:
            if name.endswith("2"):
                raise CheckpointNotFoundError(name)
            return super().load(name)

    reports: list[str] = []
    store = Vanishing(disk_store.directory)
    assert load_newest(store, "meta", lambda n, e: reports.append(n)) == (1, b"1")
    assert reports == ["meta/00000000000000000002"]


def test_an_unreachable_store_is_not_mistaken_for_no_checkpoint() -> None:
    with RedisStore(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=1.0) as store:
        with pytest.raises(CheckpointStoreUnavailable):
            load_newest(store, "meta")


@pytest.mark.parametrize("seq", [-1, 10**20, 1.5, True])
def test_bad_sequence_numbers(disk_store: DiskStore, seq: object) -> None:
    with pytest.raises(ValueError, match="generation seq must be an int"):
        save_generation(disk_store, "meta", seq, b"")  # type: ignore[arg-type]


def test_bad_retained(disk_store: DiskStore) -> None:
    with pytest.raises(ValueError, match="retained must be an int >= 1, got 0"):
        save_generation(disk_store, "meta", 1, b"", retained=0)
