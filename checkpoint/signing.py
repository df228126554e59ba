"""HMAC signatures on checkpoint payloads, so that only bytes this job wrote are unpickled.

A pickled payload executes code when loaded; a store anyone else can write to (a shared
Redis) must not hand us bytes we then unpickle. Every pickled payload is signed with the
job's key (HMAC-SHA256) and checked before it is loaded.

>>> signer = Signer(b"job secret")
>>> signed = signer.sign(b"payload")
>>> signer.verify(signed, "state/1")
b'payload'
>>> Signer(b"another key").verify(signed, "state/1")
Traceback (most recent call last):
...
dstream.checkpoint.errors.CorruptCheckpointError: state/1: signature mismatch: written with another key (another job, or tampered with); refusing to load it
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from dstream.checkpoint.errors import CorruptCheckpointError

__all__ = ["Signer", "load_or_create_key_file"]

_MAGIC = b"DSIG1"
_DIGEST = hashlib.sha256().digest_size


class Signer:
    """Signs and verifies payloads with one key."""

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) < 8:
            raise ValueError("a checkpoint key must be at least 8 bytes")
        self._key = key

    def sign(self, payload: bytes) -> bytes:
        return _MAGIC + hmac.new(self._key, payload, hashlib.sha256).digest() + payload

    def verify(self, data: bytes, source: str) -> bytes:
        """The payload of ``data``; CorruptCheckpointError naming ``source`` when it is not ours."""
        head = len(_MAGIC) + _DIGEST
        if len(data) < head or not data.startswith(_MAGIC):
            raise CorruptCheckpointError(source, "not a signed payload (no signature header); refusing to load it")
        digest, payload = data[len(_MAGIC):head], data[head:]
        if not hmac.compare_digest(digest, hmac.new(self._key, payload, hashlib.sha256).digest()):
            raise CorruptCheckpointError(
                source, "signature mismatch: written with another key (another job, or tampered with); "
                "refusing to load it")
        return payload


def load_or_create_key_file(path: str) -> bytes:
    """The key in ``path``, made (random, mode 0600) if the file does not exist yet.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "key")
    >>> load_or_create_key_file(p) == load_or_create_key_file(p)
    True
    """
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key
