"""The on-disk (and in-Redis) frame around every saved object and log record.

A frame is an 18-byte header followed by the payload::

    offset  size  field
    0       4     magic: b"DSCK" for a saved object, b"DSLR" for a log record
    4       2     format version, big-endian (currently 1)
    6       8     payload length in bytes, big-endian
    14      4     CRC-32 (zlib.crc32) of the payload, big-endian
    18      n     payload

Objects and log records share the layout but not the magic, so a log read as
an object (or the reverse) is reported as such instead of as garbage.

>>> framed = frame(b"hello")
>>> len(framed), framed[:4]
(23, b'DSCK')
>>> unframe(framed)
b'hello'
>>> records, error = split_records(frame_record(b"a") + frame_record(b"bc"))
>>> records, error
([b'a', b'bc'], None)
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from dstream.checkpoint.errors import CorruptCheckpointError

OBJECT_MAGIC = b"DSCK"
RECORD_MAGIC = b"DSLR"
FORMAT_VERSION = 1
_HEADER = struct.Struct(">4sHQI")
HEADER_SIZE = _HEADER.size

_KIND = {OBJECT_MAGIC: "saved object", RECORD_MAGIC: "log record"}


def _frame(magic: bytes, payload: bytes) -> bytes:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError(f"payload must be bytes, got {type(payload).__name__}")
    payload = bytes(payload)
    header = _HEADER.pack(magic, FORMAT_VERSION, len(payload), zlib.crc32(payload))
    return header + payload


def frame(payload: bytes) -> bytes:
    """Frame ``payload`` as a saved object (magic, version, length, CRC-32, payload).

    >>> frame(b"") == b"DSCK" + bytes([0, 1]) + bytes(8) + bytes(4)
    True
    """
    return _frame(OBJECT_MAGIC, payload)


def frame_record(payload: bytes) -> bytes:
    """Frame ``payload`` as one append-only log record.

    >>> frame_record(b"x")[:4]
    b'DSLR'
    """
    return _frame(RECORD_MAGIC, payload)


@dataclass(frozen=True)
class _Header:
    length: int
    crc: int


def _parse_header(data: bytes, offset: int, magic: bytes, source: str) -> _Header:
    available = len(data) - offset
    if available < HEADER_SIZE:
        raise CorruptCheckpointError(
            source,
            f"truncated: expected a {HEADER_SIZE}-byte header, got {available} bytes",
        )
    found, version, length, crc = _HEADER.unpack_from(data, offset)
    if found != magic:
        detail = f"bad magic {found!r} (expected {magic!r})"
        if found in _KIND:
            detail += f": this is a {_KIND[found]}, not a {_KIND[magic]}"
        raise CorruptCheckpointError(source, detail)
    if version != FORMAT_VERSION:
        raise CorruptCheckpointError(
            source,
            f"unknown format version {version} (this build reads version {FORMAT_VERSION})",
        )
    return _Header(length, crc)


def _check_payload(payload: bytes, header: _Header, source: str) -> None:
    if len(payload) < header.length:
        raise CorruptCheckpointError(
            source, f"truncated: expected {header.length} payload bytes, got {len(payload)}"
        )
    actual = zlib.crc32(payload)
    if actual != header.crc:
        raise CorruptCheckpointError(
            source,
            f"checksum mismatch: header says crc32 {header.crc:#010x}, "
            f"payload has crc32 {actual:#010x}",
        )


def _unframe(data: bytes, magic: bytes, source: str) -> bytes:
    data = bytes(data)
    header = _parse_header(data, 0, magic, source)
    payload = data[HEADER_SIZE : HEADER_SIZE + header.length]
    _check_payload(payload, header, source)
    extra = len(data) - HEADER_SIZE - header.length
    if extra:
        raise CorruptCheckpointError(
            source,
            f"length mismatch: expected {header.length} payload bytes, "
            f"got {header.length + extra} ({extra} trailing bytes)",
        )
    return payload


def unframe(data: bytes, source: str = "<bytes>") -> bytes:
    """Verify a saved object's frame and return its payload.

    Raises :class:`~checkpoint.errors.CorruptCheckpointError` naming ``source``
    and the defect: bad magic, unknown format version, truncation (expected N
    bytes, got M), trailing bytes, or a checksum mismatch with both values.

    >>> unframe(frame(b"state"))
    b'state'
    >>> unframe(frame(b"state")[:-2], "meta/9")
    Traceback (most recent call last):
    ...
    dstream.checkpoint.errors.CorruptCheckpointError: meta/9: truncated: expected 5 payload bytes, got 3
    """
    return _unframe(data, OBJECT_MAGIC, source)


def unframe_record(data: bytes, source: str = "<bytes>") -> bytes:
    """Verify exactly one framed log record and return its payload.

    >>> unframe_record(frame_record(b"r1"))
    b'r1'
    >>> unframe_record(frame(b"r1"), "log element 0")
    Traceback (most recent call last):
    ...
    dstream.checkpoint.errors.CorruptCheckpointError: log element 0: bad magic b'DSCK' (expected b'DSLR'): this is a saved object, not a log record
    """
    return _unframe(data, RECORD_MAGIC, source)


def split_records(
    data: bytes, source: str = "<bytes>"
) -> tuple[list[bytes], CorruptCheckpointError | None]:
    """Split concatenated framed log records into their payloads.

    Reading stops at the first record that is torn or corrupt: the records
    before it are returned together with the error describing it (``None``
    when every byte was read). :func:`valid_prefix_length` gives the byte
    length of the good part.

    >>> data = frame_record(b"one") + frame_record(b"two")
    >>> split_records(data[:-1], "wal/0")[0]
    [b'one']
    >>> print(split_records(data[:-1], "wal/0")[1])
    wal/0: record 1 at byte 21: truncated: expected 3 payload bytes, got 2
    """
    records, error, _ = _scan(bytes(data), source)
    return records, error


def valid_prefix_length(data: bytes) -> int:
    """Return how many leading bytes of ``data`` are whole, valid log records.

    >>> valid_prefix_length(frame_record(b"one") + b"junk")
    21
    """
    return _scan(bytes(data), "<bytes>")[2]


def _scan(data: bytes, source: str) -> tuple[list[bytes], CorruptCheckpointError | None, int]:
    records: list[bytes] = []
    offset = 0
    while offset < len(data):
        where = f"record {len(records)} at byte {offset}"
        try:
            header = _parse_header(data, offset, RECORD_MAGIC, where)
            start = offset + HEADER_SIZE
            payload = data[start : start + header.length]
            _check_payload(payload, header, where)
        except CorruptCheckpointError as exc:
            return records, CorruptCheckpointError(source, f"{where}: {exc.reason}"), offset
        records.append(payload)
        offset = start + header.length
    return records, None, offset
