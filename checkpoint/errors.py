"""Errors raised by checkpoint stores.

Every error derives from :class:`CheckpointError`, and also from the built-in
exception a caller would naturally catch: a missing name is a ``KeyError``, a
damaged object a ``ValueError``, an unreachable store a ``ConnectionError``.

>>> err = CorruptCheckpointError("state/7", "bad magic b'XXXX' (expected b'DSCK')")
>>> print(err)
state/7: bad magic b'XXXX' (expected b'DSCK')
>>> isinstance(err, ValueError), err.source, err.reason
(True, 'state/7', "bad magic b'XXXX' (expected b'DSCK')")
"""

from __future__ import annotations


class CheckpointError(Exception):
    """Base class of every error raised by the ``checkpoint`` package.

    >>> issubclass(CorruptCheckpointError, CheckpointError)
    True
    """


class CheckpointNotFoundError(CheckpointError, KeyError):
    """No object is stored under the requested name.

    >>> err = CheckpointNotFoundError("meta/1", "no checkpoint file /tmp/x/meta/1")
    >>> print(err)
    no checkpoint file /tmp/x/meta/1
    >>> err.name
    'meta/1'
    """

    def __init__(self, name: str, message: str | None = None) -> None:
        self.name = name
        super().__init__(message or f"no checkpoint named {name!r}")

    def __str__(self) -> str:
        # KeyError would print the message with quotes around it.
        return str(self.args[0])


class CorruptCheckpointError(CheckpointError, ValueError):
    """A stored object or log record cannot be read back as it was written.

    ``source`` names the file or key, ``reason`` says what is wrong (bad magic,
    checksum mismatch, truncation, unknown format version).

    >>> print(CorruptCheckpointError("/ckpt/meta/3", "truncated: expected 10 payload bytes, got 4"))
    /ckpt/meta/3: truncated: expected 10 payload bytes, got 4
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class CheckpointStoreUnavailable(CheckpointError, ConnectionError):
    """The store cannot be reached (for example Redis is down).

    The message names the store's location without any password. Callers that
    must keep going retry with :func:`checkpoint.retry.call_with_retry`.

    >>> err = CheckpointStoreUnavailable("redis://127.0.0.1:6379/0", "connection refused")
    >>> print(err)
    checkpoint store redis://127.0.0.1:6379/0 is unavailable: connection refused
    >>> isinstance(err, OSError)
    True
    """

    def __init__(self, location: str, detail: str) -> None:
        self.location = location
        self.detail = detail
        super().__init__(f"checkpoint store {location} is unavailable: {detail}")
