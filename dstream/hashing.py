"""PySpark's portable key hash, the same in every process and every run.

PySpark partitions keys with ``hash(key) % n`` in worker processes started with
``PYTHONHASHSEED=0``. Python salts ``hash(str)`` per process otherwise, so a driver
that was started without that variable cannot call ``hash()`` on strings and get the
same partition. This module computes the seed-0 hash itself when it has to (SipHash
over the string's internal representation, as CPython does) and uses the builtin when
the process already runs with seed 0, which is how our worker processes are started.

>>> portable_hash(None), portable_hash(-1), portable_hash(7)
(0, -2, 7)
>>> portable_hash("hello") == -2096571579003691106 if sys.hash_info.algorithm == "siphash13" else True
True
"""

from __future__ import annotations

import struct
import sys
from typing import Any

__all__ = ["portable_hash", "string_hash_seed0", "BUILTIN_HASH_IS_PORTABLE"]

#: True when this process hashes str and bytes like a PYTHONHASHSEED=0 process.
BUILTIN_HASH_IS_PORTABLE: bool = sys.flags.hash_randomization == 0

_MASK = 0xFFFFFFFFFFFFFFFF
_C_ROUNDS, _D_ROUNDS = (1, 3) if sys.hash_info.algorithm == "siphash13" else (2, 4)
_CACHE_LIMIT = 1 << 20
_cache: dict[Any, int] = {}


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _MASK


def _siphash_zero_key(data: bytes) -> int:
    """SipHash-c-d with a zero key, as CPython uses when PYTHONHASHSEED=0."""
    v0, v1, v2, v3 = 0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573
    n = len(data)
    tail_len = n & 7
    words = struct.unpack_from(f"<{n >> 3}Q", data) if n >= 8 else ()
    last = int.from_bytes(data[n - tail_len:] if tail_len else b"", "little") | ((n & 0xFF) << 56)

    def rounds(count: int) -> None:
        nonlocal v0, v1, v2, v3
        for _ in range(count):
            v0 = (v0 + v1) & _MASK; v1 = _rotl(v1, 13); v1 ^= v0; v0 = _rotl(v0, 32)  # noqa: E702
            v2 = (v2 + v3) & _MASK; v3 = _rotl(v3, 16); v3 ^= v2  # noqa: E702
            v0 = (v0 + v3) & _MASK; v3 = _rotl(v3, 21); v3 ^= v0  # noqa: E702
            v2 = (v2 + v1) & _MASK; v1 = _rotl(v1, 17); v1 ^= v2; v2 = _rotl(v2, 32)  # noqa: E702

    for m in (*words, last):
        v3 ^= m
        rounds(_C_ROUNDS)
        v0 ^= m
    v2 ^= 0xFF
    rounds(_D_ROUNDS)
    return v0 ^ v1 ^ v2 ^ v3


def _to_signed(h: int) -> int:
    h = h - (1 << 64) if h >= 1 << 63 else h
    return -2 if h == -1 else h


def _str_bytes(s: str) -> bytes:
    """The bytes CPython hashes for ``s``: its 1-, 2- or 4-byte-per-character form
    (lone surrogates included, as CPython stores them).

    >>> _str_bytes("\\ud800")
    b'\\x00\\xd8'
    """
    widest = max(map(ord, s), default=0)
    if widest < 0x100:
        return s.encode("latin-1")
    if widest < 0x10000:
        return s.encode("utf-16-le", "surrogatepass")
    return s.encode("utf-32-le", "surrogatepass")


def string_hash_seed0(value: str | bytes) -> int:
    """``hash(value)`` as a PYTHONHASHSEED=0 interpreter of this version computes it.

    >>> string_hash_seed0("") == 0 and string_hash_seed0(b"") == 0
    True
    """
    if not value:
        return 0
    data = value if isinstance(value, bytes) else _str_bytes(value)
    return _to_signed(_siphash_zero_key(data))


def _cached_string_hash(value: str | bytes) -> int:
    h = _cache.get(value)
    if h is None:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        h = _cache[value] = string_hash_seed0(value)
    return h


def portable_hash(x: Any) -> int:
    """Hash a key the way ``pyspark.rdd.portable_hash`` does under PYTHONHASHSEED=0.

    ``None`` is 0, tuples combine their elements, everything else is ``hash()``
    (with strings and bytes hashed as a seed-0 interpreter would).

    >>> portable_hash((1, 2)) == portable_hash((1, 2)) and portable_hash(-2) == portable_hash(-1)
    True
    """
    if x is None:
        return 0
    if isinstance(x, tuple):
        h = 0x345678
        for item in x:
            h ^= portable_hash(item)
            h *= 1000003
            h &= sys.maxsize
        h ^= len(x)
        return -2 if h == -1 else h
    if not BUILTIN_HASH_IS_PORTABLE and isinstance(x, (str, bytes)):
        return _cached_string_hash(x)
    return hash(x)
