"""Doctests of ``receivers/``, ``checkpoint/`` and ``service/`` run as the modules the distribution
installs (``dstream.receivers``, ``dstream.checkpoint``, ``dstream.service``).

pytest would import ``checkpoint/wal.py`` as a top-level ``checkpoint.wal``: a second copy of the
module under a name nothing else uses. Here each doctest module under those folders imports its
module by the ``dstream.…`` name instead.

The doctests of the batch engine's API modules (``SC_DOCTEST_MODULES``) may use ``sc``, a
``local`` Context, as PySpark's docstrings do: each docstring whose examples name ``sc`` gets a
fresh one, stopped when that docstring's examples end. Only one Context may be active in a
process, so a docstring that makes its own Context does not name ``sc``.

A doctest whose examples name ``brokers`` gets the session's Apache Kafka (``"host:port"``) and
``topic``, a new topic of one partition there; one that names ``redis_url`` gets the session's
Redis-protocol server (``"redis://host:port/0"``). So examples of Kafka and Redis APIs run
against the real servers, the same ones the tests use (the fixtures below, shared by
``tests/``): started once per session, or taken from ``KAFKA_BOOTSTRAP_SERVERS`` /
``REDIS_URL``. A server that cannot be started fails the tests that need it, with the server's
own output; it never skips them.
"""

from __future__ import annotations

import importlib
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest
from _pytest.doctest import DoctestItem, DoctestModule

from tests import servers

if TYPE_CHECKING:
    from dstream.checkpoint.redis_store import RedisStore

_ROOT = Path(__file__).resolve().parent
_MAPPED_FOLDERS = {"receivers", "checkpoint", "service"}
#: modules whose doctests get ``sc`` (paths from the repository root)
SC_DOCTEST_MODULES = {
    "dstream/accumulators.py", "dstream/broadcast.py", "dstream/context.py", "dstream/rdd.py",
    "dstream/statcounter.py", "dstream/storagelevel.py",
}
_NAMES_SC = re.compile(r"\bsc\b")
_NAMES_BROKERS = re.compile(r"\bbrokers\b")
_NAMES_REDIS_URL = re.compile(r"\bredis_url\b")


def installed_module_name(path: Path) -> str | None:
    """``dstream.checkpoint.wal`` for ``checkpoint/wal.py``; None outside the mapped folders."""
    try:
        parts = list(path.resolve().relative_to(_ROOT).with_suffix("").parts)
    except ValueError:
        return None
    if not parts or parts[0] not in _MAPPED_FOLDERS:
        return None
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["dstream", *parts])


class InstalledDoctestModule(DoctestModule):
    """A doctest module imported by its installed ``dstream.…`` name."""

    def _getobj(self) -> ModuleType:
        name = installed_module_name(self.path)
        if name is None:
            raise pytest.UsageError(f"{self.path} is not under receivers/, checkpoint/ or service/")
        return importlib.import_module(name)


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path: Path, parent: pytest.Collector):  # type: ignore[no-untyped-def]
    collected = yield
    if installed_module_name(file_path) is None:
        return collected
    return [
        InstalledDoctestModule.from_parent(parent, path=file_path)
        if type(node) is DoctestModule else node
        for node in collected
    ]


def _names(item: pytest.Item, pattern: re.Pattern[str]) -> bool:
    """Whether ``item`` is a doctest one of whose examples matches ``pattern``."""
    if not isinstance(item, DoctestItem) or item.dtest is None:
        return False
    return any(pattern.search(example.source) for example in item.dtest.examples)


def _wants_sc(item: pytest.Item) -> bool:
    try:
        where = item.path.resolve().relative_to(_ROOT).as_posix()
    except ValueError:
        return False
    return where in SC_DOCTEST_MODULES and _names(item, _NAMES_SC)


@pytest.fixture(autouse=True)
def _doctest_sc(request: pytest.FixtureRequest) -> Iterator[None]:
    """``sc`` for a docstring of ``SC_DOCTEST_MODULES`` that names it; stopped at its end."""
    if not _wants_sc(request.node):
        yield
        return
    from dstream import Context

    namespace = request.getfixturevalue("doctest_namespace")
    sc = Context("local", "doctest")
    namespace["sc"] = sc
    try:
        yield
    finally:
        namespace.pop("sc", None)
        sc.stop()


@pytest.fixture(autouse=True)
def _doctest_servers(request: pytest.FixtureRequest) -> Iterator[None]:
    """``brokers`` and a new ``topic``, or ``redis_url``, for a doctest that names them."""
    given: dict[str, str] = {}
    if _names(request.node, _NAMES_BROKERS):
        brokers = request.getfixturevalue("apache_kafka_bootstrap")
        given.update(brokers=brokers, topic=servers.create_topic(brokers, "doctest", partitions=1))
    if _names(request.node, _NAMES_REDIS_URL):
        given["redis_url"] = request.getfixturevalue("redis_url")
    if not given:
        yield
        return
    namespace = request.getfixturevalue("doctest_namespace")
    namespace.update(given)
    try:
        yield
    finally:
        for name in given:
            namespace.pop(name, None)


# -- real servers, for the tests and the doctests -------------------------------------------


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
