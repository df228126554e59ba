"""RedisStore against a real Redis-protocol server: keys, SCAN, corruption, outages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from dstream.checkpoint import open_store
from dstream.checkpoint.errors import (
    CheckpointNotFoundError,
    CheckpointStoreUnavailable,
    CorruptCheckpointError,
)
from dstream.checkpoint.framing import HEADER_SIZE, frame, frame_record
from dstream.checkpoint.redis_store import RedisStore
from dstream.checkpoint.retry import call_with_retry
from tests.servers import RunningServer, free_port, start_redis

PASSWORD = "s3cret-pw"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RunningServer]:
    """A private server with a password, free to be stopped and restarted by the test."""
    server = start_redis(tmp_path, password=PASSWORD)
    try:
        yield server
    finally:
        server.close()


def test_key_layout(redis_store: RedisStore) -> None:
    redis_store.save("meta/1", b"x")
    redis_store.append("wal/0", b"r")
    client = redis_store.client
    assert client.get(f"{redis_store.prefix}:meta/1") == frame(b"x")
    assert client.lrange(f"{redis_store.prefix}:log:wal/0", 0, -1) == [frame_record(b"r")]


def test_list_walks_many_keys_with_scan(redis_store: RedisStore) -> None:
    names = [f"state/op/{i:05d}" for i in range(2500)]
    with redis_store.client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.set(redis_store.key(name), frame(b""))
        pipe.execute()
    assert redis_store.list("state/") == names
    assert redis_store.list("state/op/0000") == names[:10]


def test_list_ignores_other_prefixes_and_foreign_keys(redis_store: RedisStore, redis_url: str) -> None:
    with RedisStore(redis_url, prefix=redis_store.prefix + "x") as neighbour:
        neighbour.save("meta/1", b"not mine")
        try:
            redis_store.client.set(f"{redis_store.prefix}:some:other:key", b"foreign")
            redis_store.save("meta/2", b"mine")
            assert redis_store.list() == ["meta/2"]
        finally:
            neighbour.delete("meta/1")


def test_glob_characters_in_names_are_matched_literally(redis_store: RedisStore) -> None:
    for name in ["a*b", "a[1]", "a?c", "abc"]:
        redis_store.save(name, b"x")
    assert redis_store.list("a*") == ["a*b"]
    assert redis_store.list("a[") == ["a[1]"]
    assert redis_store.list("a") == ["a*b", "a?c", "a[1]", "abc"]


def test_deleted_key_names_the_key(redis_store: RedisStore) -> None:
    redis_store.save("meta/1", b"x")
    redis_store.client.delete(redis_store.key("meta/1"))
    with pytest.raises(CheckpointNotFoundError) as info:
        redis_store.load("meta/1")
    assert str(info.value) == f"no Redis key '{redis_store.prefix}:meta/1' on {redis_store.location}"


def test_flipped_byte_names_the_key_and_checksums(redis_store: RedisStore) -> None:
    data = bytearray(frame(b"payload"))
    data[HEADER_SIZE] ^= 0x20
    redis_store.client.set(redis_store.key("meta/1"), bytes(data))
    with pytest.raises(CorruptCheckpointError) as info:
        redis_store.load("meta/1")
    message = str(info.value)
    assert message.startswith(
        f"Redis key '{redis_store.prefix}:meta/1' on {redis_store.location}: checksum mismatch: "
        "header says crc32 0x"
    )
    assert ", payload has crc32 0x" in message


def test_truncated_value(redis_store: RedisStore) -> None:
    redis_store.client.set(redis_store.key("meta/1"), frame(bytes(50))[:-8])
    with pytest.raises(CorruptCheckpointError, match="truncated: expected 50 payload bytes, got 42$"):
        redis_store.load("meta/1")


def test_wrong_magic(redis_store: RedisStore) -> None:
    redis_store.client.set(redis_store.key("meta/1"), b"hello, I am a plain string value")
    with pytest.raises(CorruptCheckpointError, match=r"bad magic b'hell' \(expected b'DSCK'\)$"):
        redis_store.load("meta/1")


def test_corrupt_log_element_is_reported_and_reading_stops(redis_store: RedisStore) -> None:
    redis_store.append("wal/0", b"one")
    redis_store.append("wal/0", b"two")
    redis_store.client.rpush(redis_store.log_key("wal/0"), frame_record(b"three")[:-1])
    reports: list[tuple[str, CorruptCheckpointError]] = []
    assert redis_store.read_log("wal/0", lambda n, e: reports.append((n, e))) == [b"one", b"two"]
    [(name, error)] = reports
    assert name == "wal/0"
    assert str(error) == (
        f"Redis key '{redis_store.prefix}:log:wal/0' on {redis_store.location}, element 2 of 3: "
        "truncated: expected 5 payload bytes, got 4"
    )


# -- URLs -------------------------------------------------------------------------


def test_prefix_from_url_or_argument_or_default() -> None:
    with RedisStore("redis://127.0.0.1:6379/0?prefix=app") as store:
        assert store.prefix == "app"
    with RedisStore("redis://127.0.0.1:6379/0?prefix=app", prefix="explicit") as store:
        assert store.prefix == "explicit"
    with RedisStore("redis://127.0.0.1:6379/0") as store:
        assert store.prefix == "dstream"


def test_credentials_and_tls_come_from_the_url() -> None:
    with open_store("rediss://alice:pw@cache.example:6380/3?prefix=p") as store:
        assert isinstance(store, RedisStore)
        kwargs = store.client.connection_pool.connection_kwargs
        assert (kwargs["username"], kwargs["password"], kwargs["db"]) == ("alice", "pw", 3)
        assert store.client.connection_pool.connection_class is redis.SSLConnection
        assert store.location == "rediss://alice@cache.example:6380/3"
    with open_store("redis://127.0.0.1:1/0") as store:
        assert store.client.connection_pool.connection_class is redis.Connection


def test_bad_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid Redis key prefix 'a\\*'"):
        RedisStore("redis://127.0.0.1/0", prefix="a*")


# -- outages ----------------------------------------------------------------------


def test_password_server_works(own_redis: RunningServer) -> None:
    with RedisStore(own_redis.url) as store:
        store.save("meta/1", b"x")
        assert store.load("meta/1") == b"x"


def test_nothing_listening_is_unavailable_without_password_in_message() -> None:
    port = free_port()
    with RedisStore(f"redis://:{PASSWORD}@127.0.0.1:{port}/0", socket_timeout=1.0) as store:
        with pytest.raises(CheckpointStoreUnavailable) as info:
            store.save("meta/1", b"x")
    message = str(info.value)
    assert message.startswith(f"checkpoint store redis://127.0.0.1:{port}/0 is unavailable: ")
    assert PASSWORD not in message
    assert isinstance(info.value, ConnectionError)
    assert isinstance(info.value.__cause__, redis.ConnectionError)


def test_stopped_server_is_unavailable_then_works_after_restart(own_redis: RunningServer) -> None:
    with RedisStore(own_redis.url, socket_timeout=1.0) as store:
        store.save("meta/1", b"before")
        own_redis.stop()
        for call in (
            lambda: store.save("meta/2", b"x"),
            lambda: store.load("meta/1"),
            lambda: store.list(),
            lambda: store.append("wal/0", b"r"),
            lambda: store.read_log("wal/0"),
            lambda: store.exists("meta/1"),
            lambda: store.delete("meta/1"),
        ):
            with pytest.raises(CheckpointStoreUnavailable, match="is unavailable") as info:
                call()
            assert PASSWORD not in str(info.value)
            assert f"127.0.0.1:{own_redis.port}" in str(info.value)
        own_redis.restart()
        store.save("meta/2", b"after")  # same client, reconnected by itself
        assert store.load("meta/2") == b"after"


def test_killed_server_and_retry_until_it_is_back(own_redis: RunningServer) -> None:
    with RedisStore(own_redis.url, socket_timeout=1.0) as store:
        store.save("meta/1", b"before")
        own_redis.kill()
        failures: list[int] = []

        def restart_on_second_failure(error: BaseException, attempt: int, delay: float) -> None:
            assert isinstance(error, CheckpointStoreUnavailable)
            failures.append(attempt)
            if attempt == 2:
                own_redis.start()

        call_with_retry(
            lambda: store.save("meta/2", b"kept going"),
            attempts=5, base_delay=0.0, max_delay=0.0, on_error=restart_on_second_failure,
        )
        assert failures == [1, 2]
        assert store.load("meta/2") == b"kept going"
