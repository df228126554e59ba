"""The frame around saved objects and log records: round trips and every defect's message."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dstream.checkpoint.errors import CorruptCheckpointError
from dstream.checkpoint.framing import (
    FORMAT_VERSION,
    HEADER_SIZE,
    frame,
    frame_record,
    split_records,
    unframe,
    unframe_record,
    valid_prefix_length,
)


@given(st.binary(max_size=4096))
def test_object_round_trip(payload: bytes) -> None:
    framed = frame(payload)
    assert len(framed) == HEADER_SIZE + len(payload)
    assert unframe(framed) == payload


@given(st.lists(st.binary(max_size=256), max_size=20))
def test_records_round_trip(payloads: list[bytes]) -> None:
    data = b"".join(frame_record(p) for p in payloads)
    assert split_records(data) == (payloads, None)
    assert valid_prefix_length(data) == len(data)


@given(st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=8), st.data())
def test_any_cut_keeps_the_whole_records_before_it(payloads: list[bytes], data: st.DataObject) -> None:
    frames = [frame_record(p) for p in payloads]
    joined = b"".join(frames)
    cut = data.draw(st.integers(min_value=0, max_value=len(joined)))
    records, error = split_records(joined[:cut], "wal/x")
    boundaries = [sum(len(f) for f in frames[:i]) for i in range(len(frames) + 1)]
    whole = max(i for i, b in enumerate(boundaries) if b <= cut)
    assert records == payloads[:whole]
    assert (error is None) == (cut in boundaries)
    assert valid_prefix_length(joined[:cut]) == boundaries[whole]


@given(st.binary(min_size=1, max_size=512), st.data())
def test_any_flipped_bit_is_detected(payload: bytes, data: st.DataObject) -> None:
    framed = bytearray(frame(payload))
    position = data.draw(st.integers(min_value=0, max_value=len(framed) - 1))
    framed[position] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))
    with pytest.raises(CorruptCheckpointError):
        unframe(bytes(framed))


def test_flipped_payload_byte_names_both_checksums() -> None:
    payload = b"state of the world"
    framed = bytearray(frame(payload))
    framed[HEADER_SIZE + 3] ^= 0xFF
    damaged = bytes(framed[HEADER_SIZE:])
    with pytest.raises(CorruptCheckpointError) as info:
        unframe(bytes(framed), "/ckpt/meta/1")
    assert str(info.value) == (
        f"/ckpt/meta/1: checksum mismatch: header says crc32 {zlib.crc32(payload):#010x}, "
        f"payload has crc32 {zlib.crc32(damaged):#010x}"
    )
    assert info.value.source == "/ckpt/meta/1"


def test_truncated_payload_says_expected_and_got() -> None:
    with pytest.raises(CorruptCheckpointError, match=r"^m: truncated: expected 100 payload bytes, got 60$"):
        unframe(frame(bytes(100))[: HEADER_SIZE + 60], "m")


@pytest.mark.parametrize("size", [0, 1, HEADER_SIZE - 1])
def test_truncated_header(size: int) -> None:
    with pytest.raises(
        CorruptCheckpointError,
        match=rf"^m: truncated: expected a {HEADER_SIZE}-byte header, got {size} bytes$",
    ):
        unframe(frame(b"x")[:size], "m")


def test_wrong_magic() -> None:
    with pytest.raises(CorruptCheckpointError, match=r"^m: bad magic b'PK\\x03\\x04' \(expected b'DSCK'\)$"):
        unframe(b"PK\x03\x04" + frame(b"zip?")[4:], "m")


def test_log_record_read_as_object_and_back() -> None:
    with pytest.raises(CorruptCheckpointError, match="this is a log record, not a saved object"):
        unframe(frame_record(b"r"), "m")
    with pytest.raises(CorruptCheckpointError, match="this is a saved object, not a log record"):
        unframe_record(frame(b"r"), "m")


def test_unknown_format_version() -> None:
    framed = bytearray(frame(b"future"))
    struct.pack_into(">H", framed, 4, 7)
    with pytest.raises(
        CorruptCheckpointError,
        match=rf"^m: unknown format version 7 \(this build reads version {FORMAT_VERSION}\)$",
    ):
        unframe(bytes(framed), "m")


def test_trailing_bytes() -> None:
    with pytest.raises(
        CorruptCheckpointError,
        match=r"^m: length mismatch: expected 3 payload bytes, got 5 \(2 trailing bytes\)$",
    ):
        unframe(frame(b"abc") + b"zz", "m")


def test_corrupt_middle_record_stops_reading_there() -> None:
    frames = [frame_record(p) for p in (b"one", b"two", b"three")]
    damaged = bytearray(frames[1])
    damaged[-1] ^= 0x01
    records, error = split_records(frames[0] + bytes(damaged) + frames[2], "wal/7")
    assert records == [b"one"]
    assert error is not None
    assert str(error).startswith(f"wal/7: record 1 at byte {len(frames[0])}: checksum mismatch")


def test_frame_rejects_non_bytes() -> None:
    with pytest.raises(TypeError, match="payload must be bytes, got str"):
        frame("text")  # type: ignore[arg-type]
