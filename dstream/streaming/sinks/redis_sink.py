"""A Redis sink that applies each batch once: its writes and a "last batch written" marker in
one MULTI/EXEC transaction, so a batch replayed after a crash is skipped.

Each batch (``RedisSink.__call__(time, rdd)``, on the driver): ``WATCH`` the marker key,
read it; a batch whose time is not after the marker was applied before a crash and is
skipped. Otherwise ``MULTI``, one ``SET`` per ``(key, value)`` record (key prefixed with
``keyPrefix``, both written as the UTF-8 of their ``str()``, bytes as they are), ``SET`` of the
marker to the batch time, ``EXEC``. Redis applies a transaction whole or not at all, so after a
crash either the batch and its marker are in (the re-run is skipped) or neither is (the re-run
writes it). If the marker changed between ``WATCH`` and ``EXEC`` (another instance of the job
wrote a batch), Redis refuses the transaction and the sink reads the marker again: a zombie
never writes over a newer batch.

The marker key is ``dstream:sink:<name>:last-batch-ms``; ``name`` is stable across restarts
and unique per output (``DStream.saveToRedis`` uses ``<appName>/<output stream id>``).
Writes are ``SET``s of the batch's final values (an upsert, such as running totals): applying
a batch twice would give the same keys the same values, and the marker makes it once anyway.
With Redis persistence off or a failover to a replica that missed the last writes, what Redis
lost is lost: the guarantee is Redis's own durability.

>>> sink = RedisSink("redis://127.0.0.1:6379/0", "wordcount/totals", keyPrefix="count:")
>>> sink.marker_key
'dstream:sink:wordcount/totals:last-batch-ms'
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...rdd import RDD

__all__ = ["RedisSink", "RedisSinkError"]

log = logging.getLogger(__name__)


class RedisSinkError(RuntimeError):
    """A batch could not be applied to Redis."""


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return (value if isinstance(value, str) else str(value)).encode("utf-8")


def _batch_ms(time: Any) -> int:
    if hasattr(time, "timestamp"):
        return int(round(time.timestamp() * 1000))
    return int(time)


class RedisSink:
    """An output function (``stream.foreachRDD(RedisSink(url, name))``) that ``SET``s each
    batch's ``(key, value)`` records together with a "last batch written" marker, atomically.

    ``name`` must be stable across restarts and unique per output; ``keyPrefix`` goes before
    every key; ``retries`` is how often a transaction refused because the marker moved is
    tried again (after reading the marker anew).
    """

    def __init__(self, url: str, name: str, keyPrefix: str = "", retries: int = 3) -> None:
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"RedisSink needs a redis://, rediss:// or unix:// URL, got {url!r}")
        if not isinstance(name, str) or not name:
            raise ValueError(f"RedisSink needs a non-empty name, stable across restarts, got {name!r}")
        if not isinstance(keyPrefix, str):
            raise TypeError(f"RedisSink: keyPrefix must be a str, got {type(keyPrefix).__name__}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"RedisSink: retries must be an int >= 0, got {retries!r}")
        self.url = url
        self.key_prefix = keyPrefix.encode("utf-8")
        self.retries = retries
        self.skipped = 0
        #: transactions Redis refused because the marker moved under them
        self.refused = 0
        self.set_name(name)
        self._client: Any = None
        self._lock = threading.Lock()

    def set_name(self, name: str) -> None:
        """Name the output (its marker key follows)."""
        self.name = name
        self.marker_key = f"dstream:sink:{name}:last-batch-ms"

    def __call__(self, time: Any, rdd: RDD[Any]) -> None:
        """Apply the batch of ``time`` (skipped when the marker shows it applied already)."""
        time_ms = _batch_ms(time)
        records = rdd.collect()
        writes = []
        for record in records:
            if not (isinstance(record, tuple) and len(record) == 2):
                raise TypeError(f"RedisSink {self.name!r}: records must be (key, value) pairs, got "
                                f"{record!r} in the batch of {time_ms} ms; map them to pairs first")
            writes.append((self.key_prefix + _to_bytes(record[0]), _to_bytes(record[1])))
        with self._lock:
            self._apply(time_ms, writes)

    def _apply(self, time_ms: int, writes: list[tuple[bytes, bytes]]) -> None:
        import redis

        client = self._open()
        for _attempt in range(self.retries + 1):
            with client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(self.marker_key)
                    marker = self._read_marker(pipe)
                    if marker is not None and time_ms <= marker:
                        self.skipped += 1
                        log.info("RedisSink %s: batch %d is not after the marker (%d); skipped",
                                 self.name, time_ms, marker)
                        return
                    pipe.multi()
                    for key, value in writes:
                        pipe.set(key, value)
                    pipe.set(self.marker_key, str(time_ms))
                    pipe.execute()
                    return
                except redis.WatchError:
                    self.refused += 1
                    log.warning("RedisSink %s: the marker changed while the batch of %d ms was "
                                "written (another instance?); reading it again", self.name, time_ms)
        raise RedisSinkError(f"RedisSink {self.name!r}: the marker {self.marker_key!r} kept changing "
                             f"while the batch of {time_ms} ms was written ({self.retries + 1} "
                             "attempts): is another instance of this job running?")

    def _read_marker(self, pipe: Any) -> int | None:
        """The last batch written (its time in ms), read under WATCH; None before the first."""
        value = pipe.get(self.marker_key)
        return None if value is None else int(value)

    def _open(self) -> Any:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(self.url, socket_timeout=30.0)
        return self._client

    def close(self) -> None:
        """Close the connection pool (the streaming context calls this when it stops)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
