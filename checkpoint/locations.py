"""Opening a checkpoint store by its location: a directory path or ``file://`` URL (a
``DiskStore``), or a ``redis://`` / ``rediss://`` URL (a ``RedisStore``).

>>> import tempfile
>>> with open_store(tempfile.mkdtemp()) as store:
...     type(store).__name__
'DiskStore'
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from dstream.checkpoint.disk import DiskStore
from dstream.checkpoint.store import CheckpointStore

__all__ = ["open_store"]


def open_store(location: str, **opts: object) -> CheckpointStore:
    """Open the checkpoint store at ``location``.

    * a plain path or a ``file://`` URL gives a :class:`~checkpoint.disk.DiskStore`;
    * ``redis://[[user]:password@]host[:port][/db][?prefix=NAME]`` or
      ``rediss://…`` (TLS) gives a :class:`~checkpoint.redis_store.RedisStore`,
      whose key prefix is ``opts["prefix"]``, else the URL's ``prefix`` query
      parameter, else ``"dstream"``.

    Other keyword options go to the store's constructor.

    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> store = open_store("file://" + root)
    >>> type(store).__name__, store.directory == os.path.realpath(root)
    ('DiskStore', True)
    >>> store.close()
    >>> open_store("s3://bucket/x")
    Traceback (most recent call last):
    ...
    ValueError: unsupported checkpoint location 's3://bucket/x': use a directory path, file://, redis:// or rediss://

    A Redis URL (``redis_url`` is ``"redis://host:port/0"``), with a key prefix:

    >>> store = open_store(redis_url + "?prefix=doc-open")
    >>> type(store).__name__, store.prefix
    ('RedisStore', 'doc-open')
    >>> store.save("meta/1", b"v1"); store.load("meta/1")
    b'v1'
    >>> store.delete("meta/1"); store.close()
    """
    if not isinstance(location, str) or not location:
        raise ValueError(f"checkpoint location must be a non-empty string, got {location!r}")
    scheme = location.split("://", 1)[0].lower() if "://" in location else ""
    if scheme in ("redis", "rediss"):
        # redis-py takes a good part of a second to import: only jobs that use Redis pay it
        from dstream.checkpoint.redis_store import RedisStore

        return RedisStore(location, **opts)  # type: ignore[arg-type]
    if scheme in ("", "file"):
        return DiskStore(_file_path(location) if scheme else location, **opts)  # type: ignore[arg-type]
    raise ValueError(
        f"unsupported checkpoint location {location!r}: "
        "use a directory path, file://, redis:// or rediss://"
    )


def _file_path(url: str) -> str:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(
            f"file URL {url!r} names host {parts.netloc!r}; "
            "use file:///absolute/path or a plain path"
        )
    if not parts.path:
        raise ValueError(f"file URL {url!r} has no path")
    return unquote(parts.path)
