"""A checkpoint store in Redis (or Valkey, or any server speaking its protocol).

Objects live in string keys ``{prefix}:{name}`` written with ``SET`` (atomic),
logs in list keys ``{prefix}:log:{name}`` appended with ``RPUSH`` (one framed
record per element). Names cannot contain ``:``, so the two never collide.
``list`` walks keys with ``SCAN`` (never ``KEYS``). Durability is the
server's: with ``appendonly yes`` and ``appendfsync always`` an acknowledged
write survives a server crash.

Any failure to reach the server is raised as
:class:`~checkpoint.errors.CheckpointStoreUnavailable`, whose message names
the URL without its password; the client reconnects by itself on the next
call once the server is back.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dstream.checkpoint import framing
from dstream.checkpoint.errors import (
    CheckpointNotFoundError,
    CheckpointStoreUnavailable,
    CorruptCheckpointError,
)
from dstream.checkpoint.store import CheckpointStore, OnCorrupt, log_corrupt_tail, validate_name

DEFAULT_PREFIX = "dstream"
_GLOB_SPECIAL = "\\*?[]"


def redact_url(url: str) -> str:
    """Return ``url`` without its password (and without its query string).

    >>> redact_url("redis://user:s3cret@cache.local:6380/2?prefix=app")
    'redis://user@cache.local:6380/2'
    >>> redact_url("rediss://:s3cret@127.0.0.1/0")
    'rediss://127.0.0.1/0'
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port is not None else "")
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def split_prefix(url: str) -> tuple[str, str | None]:
    """Take the ``prefix`` query parameter out of a Redis URL.

    >>> split_prefix("redis://h:6379/0?prefix=app&socket_timeout=2")
    ('redis://h:6379/0?socket_timeout=2', 'app')
    >>> split_prefix("redis://h:6379/0")
    ('redis://h:6379/0', None)
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefixes = [value for key, value in query if key == "prefix"]
    rest = [(key, value) for key, value in query if key != "prefix"]
    stripped = urlunsplit(parts._replace(query=urlencode(rest)))
    return stripped, (prefixes[-1] if prefixes else None)


class RedisStore(CheckpointStore):
    """Checkpoint store under key prefix ``prefix`` on the Redis server at ``url``.

    ``url`` is ``redis://[[user]:password@]host[:port][/db][?prefix=NAME]``
    or ``rediss://…`` for TLS; the URL's other query parameters and
    ``redis_opts`` go to :meth:`redis.Redis.from_url`. ``prefix`` defaults to
    the URL's ``prefix`` parameter, else ``"dstream"``. ``socket_timeout``
    bounds every network wait, so an unreachable server is reported quickly.
    Nothing connects until the first call.

    >>> store = RedisStore("redis://:pw@127.0.0.1:1/0?prefix=job1", socket_timeout=0.5)
    >>> store.prefix, store.location
    ('job1', 'redis://127.0.0.1:1/0')
    >>> store.load("meta/1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dstream.checkpoint.errors.CheckpointStoreUnavailable: checkpoint store redis://127.0.0.1:1/0 is unavailable: ...
    >>> store.close()

    Against a Redis server (``redis_url`` is ``"redis://host:port/0"``):

    >>> with RedisStore(redis_url, prefix="doc-store") as store:
    ...     store.save("meta/1", b"batch 1")
    ...     store.load("meta/1"), store.list()
    ...     store.delete("meta/1")
    (b'batch 1', ['meta/1'])
    """

    def __init__(
        self,
        url: str,
        prefix: str | None = None,
        *,
        socket_timeout: float = 5.0,
        on_corrupt: OnCorrupt | None = None,
        **redis_opts: Any,
    ) -> None:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("redis", "rediss"):
            raise ValueError(f"RedisStore needs a redis:// or rediss:// URL, got {redact_url(url)!r}")
        client_url, url_prefix = split_prefix(url)
        prefix = prefix if prefix is not None else (url_prefix or DEFAULT_PREFIX)
        if not prefix or any(c in prefix for c in _GLOB_SPECIAL):
            raise ValueError(
                f"invalid Redis key prefix {prefix!r}: it must be non-empty "
                f"and free of {_GLOB_SPECIAL!r}"
            )
        self.prefix = prefix
        self.location = redact_url(url)
        self._on_corrupt = on_corrupt or log_corrupt_tail
        if redis_opts.pop("decode_responses", False):
            raise ValueError("RedisStore stores bytes: decode_responses=True is not supported")
        redis_opts.setdefault("socket_connect_timeout", socket_timeout)
        # One quick reconnect for a stale pooled connection; longer outages
        # are the caller's to retry (checkpoint.retry.call_with_retry).
        redis_opts.setdefault("retry", Retry(NoBackoff(), 1))
        self._client = redis.Redis.from_url(
            client_url, socket_timeout=socket_timeout, **redis_opts
        )

    def __repr__(self) -> str:
        return f"RedisStore({self.location!r}, prefix={self.prefix!r})"

    @property
    def client(self) -> redis.Redis:
        """The underlying redis-py client (for tests and diagnostics).

        Against a Redis server (``redis_url`` is ``"redis://host:port/0"``):

        >>> store = RedisStore(redis_url, prefix="doc-client")
        >>> store.save("meta/1", b"batch 1")
        >>> store.client.exists("doc-client:meta/1")
        1
        >>> for name in store.list():
        ...     store.delete(name)
        >>> store.close()
        """
        return self._client

    def key(self, name: str) -> str:
        """The Redis key of the object ``name``.

        >>> RedisStore("redis://localhost/0", "app").key("meta/1")
        'app:meta/1'
        """
        return f"{self.prefix}:{validate_name(name)}"

    def log_key(self, name: str) -> str:
        """The Redis key of the log ``name``.

        >>> RedisStore("redis://localhost/0", "app").log_key("wal/0")
        'app:log:wal/0'
        """
        return f"{self.prefix}:log:{validate_name(name)}"

    @contextlib.contextmanager
    def _unavailable(self) -> Iterator[None]:
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            if isinstance(exc, CheckpointStoreUnavailable):
                raise
            raise CheckpointStoreUnavailable(
                self.location, f"{type(exc).__name__}: {exc}"
            ) from exc

    # -- objects ---------------------------------------------------------

    def save(self, name: str, data: bytes) -> None:
        """``SET`` the framed ``data`` under ``{prefix}:{name}`` (atomic).

        Against a Redis server (``redis_url`` is ``"redis://host:port/0"``):

        >>> store = RedisStore(redis_url, prefix="doc-save")
        >>> store.save("meta/1", b"batch 1")
        >>> store.save("meta/1", b"batch 1, again")
        >>> store.load("meta/1")
        b'batch 1, again'
        >>> for name in store.list():
        ...     store.delete(name)
        >>> store.close()
        """
        key = self.key(name)
        framed = framing.frame(data)
        with self._unavailable():
            self._client.set(key, framed)

    def load(self, name: str) -> bytes:
        """``GET`` ``{prefix}:{name}`` and return the verified payload.

        Against a Redis server (``redis_url`` is ``"redis://host:port/0"``):

        >>> store = RedisStore(redis_url, prefix="doc-load")
        >>> store.save("meta/1", b"batch 1")
        >>> store.load("meta/1")
        b'batch 1'
        >>> store.load("meta/2")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        dstream.checkpoint.errors.CheckpointNotFoundError: no Redis key 'doc-load:meta/2' on redis://...
        >>> for name in store.list():
        ...     store.delete(name)
        >>> store.close()
        """
        key = self.key(name)
        with self._unavailable():
            data = self._client.get(key)
        if data is None:
            raise CheckpointNotFoundError(name, f"no Redis key {key!r} on {self.location}")
        assert isinstance(data, bytes)   # replies are bytes: decode_responses is refused
        return framing.unframe(data, source=f"Redis key {key!r} on {self.location}")

    def list(self, prefix: str = "") -> list[str]:
        """Sorted object and log names starting with ``prefix``, found with ``SCAN``.

        Against a Redis server (``redis_url`` is ``"redis://host:port/0"``):

        >>> store = RedisStore(redis_url, prefix="doc-list")
        >>> store.save("meta/2", b"b"); store.save("meta/1", b"a"); store.append("wal/0", b"r")
        >>> store.list("meta/"), store.list()
        (['meta/1', 'meta/2'], ['meta/1', 'meta/2', 'wal/0'])
        >>> for name in store.list():
        ...     store.delete(name)
        >>> store.close()
        """
        names: set[str] = set()
        head = f"{self.prefix}:"
        log_head = f"{self.prefix}:log:"
        pattern = _glob_escape(prefix) + "*"
        with self._unavailable():
            for raw in self._client.scan_iter(match=head + pattern, count=1000):
                rest = raw.decode("utf-8", "surrogateescape")[len(head) :]
                if ":" not in rest:
                    names.add(rest)
            for raw in self._client.scan_iter(match=log_head + pattern, count=1000):
                names.add(raw.decode("utf-8", "surrogateescape")[len(log_head) :])
        return sorted(name for name in names if name.startswith(prefix))

    def delete(self, name: str) -> None:
        """``DEL`` the object and the log called ``name`` (missing is fine).

        Against a Redis server (``redis_url`` is ``"redis://host:port/0"``):

        >>> store = RedisStore(redis_url, prefix="doc-delete")
        >>> store.save("meta/1", b"a")
        >>> store.delete("meta/1"); store.delete("never/saved")
        >>> store.exists("meta/1")
        False
        >>> for name in store.list():
        ...     store.delete(name)
        >>> store.close()
        """
        keys = (self.key(name), self.log_key(name))
        with self._unavailable():
            self._client.delete(*keys)

    def exists(self, name: str) -> bool:
        """Tell whether an object or a log is stored under ``name``.

        Against a Redis server (``redis_url`` is ``"redis://host:port/0"``):

        >>> store = RedisStore(redis_url, prefix="doc-exists")
        >>> store.append("wal/0", b"r")
        >>> store.exists("wal/0"), store.exists("meta/1")
        (True, False)
        >>> for name in store.list():
        ...     store.delete(name)
        >>> store.close()
        """
        keys = (self.key(name), self.log_key(name))
        with self._unavailable():
            return bool(self._client.exists(*keys))

    # -- logs ------------------------------------------------------------

    def append(self, name: str, data: bytes) -> None:
        """``RPUSH`` one framed record onto ``{prefix}:log:{name}``.

        Against a Redis server (``redis_url`` is ``"redis://host:port/0"``):

        >>> store = RedisStore(redis_url, prefix="doc-append")
        >>> store.append("wal/0", b"r1"); store.append("wal/0", b"r2")
        >>> store.read_log("wal/0"), store.client.llen("doc-append:log:wal/0")
        ([b'r1', b'r2'], 2)
        >>> for name in store.list():
        ...     store.delete(name)
        >>> store.close()
        """
        key = self.log_key(name)
        record = framing.frame_record(data)
        with self._unavailable():
            self._client.rpush(key, record)

    def read_log(
        self, name: str, on_corrupt: OnCorrupt | None = None
    ) -> builtins.list[bytes]:
        """``LRANGE`` the log; reading stops at the first corrupt element, which is reported.

        Against a Redis server (``redis_url`` is ``"redis://host:port/0"``):

        >>> store = RedisStore(redis_url, prefix="doc-read-log")
        >>> store.append("wal/0", b"r1"); store.append("wal/0", b"r2")
        >>> _ = store.client.rpush("doc-read-log:log:wal/0", b"torn")       # a damaged record
        >>> store.read_log("wal/0", on_corrupt=lambda name, error: print("dropped the tail of", name))
        dropped the tail of wal/0
        [b'r1', b'r2']
        >>> store.read_log("never/written")
        []
        >>> for name in store.list():
        ...     store.delete(name)
        >>> store.close()
        """
        key = self.log_key(name)
        with self._unavailable():
            elements = self._client.lrange(key, 0, -1)
        records = []
        for index, element in enumerate(elements):
            source = f"Redis key {key!r} on {self.location}, element {index} of {len(elements)}"
            assert isinstance(element, bytes)   # replies are bytes: decode_responses is refused
            try:
                records.append(framing.unframe_record(element, source))
            except CorruptCheckpointError as error:
                (on_corrupt or self._on_corrupt)(name, error)
                break
        return records

    def close(self) -> None:
        """Close the client's connections.

        >>> store = RedisStore(redis_url, prefix="doc-close")
        >>> store.exists("meta/1")
        False
        >>> store.close()
        """
        self._client.close()


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in _GLOB_SPECIAL else c for c in text)
