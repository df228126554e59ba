"""The CheckpointStore contract, run against the disk store and the Redis store alike."""

from __future__ import annotations

import pytest

from dstream.checkpoint.errors import CheckpointNotFoundError, CorruptCheckpointError
from dstream.checkpoint.store import CheckpointStore


def test_save_load_overwrite(any_store: CheckpointStore) -> None:
    any_store.save("meta/1", b"first")
    assert any_store.load("meta/1") == b"first"
    any_store.save("meta/1", b"second, longer")
    assert any_store.load("meta/1") == b"second, longer"
    any_store.save("empty", b"")
    assert any_store.load("empty") == b""


def test_binary_payload_survives(any_store: CheckpointStore) -> None:
    payload = bytes(range(256)) * 64
    any_store.save("blob", payload)
    assert any_store.load("blob") == payload


def test_missing_name(any_store: CheckpointStore) -> None:
    with pytest.raises(CheckpointNotFoundError) as info:
        any_store.load("meta/404")
    assert isinstance(info.value, KeyError)
    assert info.value.name == "meta/404"
    assert "404" in str(info.value)
    assert not any_store.exists("meta/404")


def test_list_is_sorted_and_filtered_by_prefix(any_store: CheckpointStore) -> None:
    for name in ["state/op-2/3", "meta/2", "state/op-1/9", "meta/10", "state/op/1", "stats"]:
        any_store.save(name, b"x")
    any_store.append("wal/r0/0", b"rec")
    assert any_store.list() == [
        "meta/10", "meta/2", "state/op-1/9", "state/op-2/3", "state/op/1", "stats", "wal/r0/0",
    ]
    assert any_store.list("state/op") == ["state/op-1/9", "state/op-2/3", "state/op/1"]
    assert any_store.list("state/op/") == ["state/op/1"]
    assert any_store.list("meta/1") == ["meta/10"]
    assert any_store.list("nothing/") == []
    assert any_store.list("../") == []


def test_delete_and_exists(any_store: CheckpointStore) -> None:
    any_store.save("a/b", b"1")
    any_store.append("a/log", b"r")
    assert any_store.exists("a/b") and any_store.exists("a/log")
    any_store.delete("a/b")
    any_store.delete("a/log")
    any_store.delete("a/never-there")
    assert not any_store.exists("a/b") and not any_store.exists("a/log")
    assert any_store.list("a/") == []
    assert any_store.read_log("a/log") == []


def test_log_appends_in_order(any_store: CheckpointStore) -> None:
    assert any_store.read_log("wal/seg") == []
    records = [b"", b"one", bytes(1000), b"three"]
    for record in records:
        any_store.append("wal/seg", record)
    assert any_store.read_log("wal/seg") == records


def test_log_is_not_an_object(any_store: CheckpointStore) -> None:
    any_store.append("wal/seg", b"r")
    with pytest.raises((CorruptCheckpointError, CheckpointNotFoundError)):
        any_store.load("wal/seg")


@pytest.mark.parametrize(
    "name", ["", "/abs", "a//b", "a/", "..", "a/../b", ".hidden", "a/.tmp", "a\\b", "a:b", "a\nb"]
)
def test_invalid_names_are_refused(any_store: CheckpointStore, name: str) -> None:
    with pytest.raises(ValueError, match="invalid checkpoint name"):
        any_store.save(name, b"x")
    with pytest.raises(ValueError, match="invalid checkpoint name"):
        any_store.append(name, b"x")


def test_context_manager_closes(any_store: CheckpointStore) -> None:
    with any_store as same:
        assert same is any_store
