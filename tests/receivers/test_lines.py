"""LineSplitter: the same lines whatever the chunking; bad input counted with offsets."""

from __future__ import annotations

import pytest

from dstream.receivers.lines import BadLine, LineSplitter

STREAM = "alpha\r\nbeta\nγάμμα\n\ndelta €\nlast".encode()
LINES = ["alpha", "beta", "γάμμα", "", "delta €", "last"]


def split(data: bytes, chunk: int, **kwargs) -> tuple[list[str], list[BadLine]]:
    splitter = LineSplitter(**kwargs)
    lines: list[str] = []
    bad: list[BadLine] = []
    for start in range(0, len(data), chunk):
        more, worse = splitter.feed(data[start : start + chunk])
        lines += more
        bad += worse
    more, worse = splitter.finish()
    return lines + more, bad + worse


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64, 10_000])
def test_any_chunking_gives_the_same_lines(chunk: int) -> None:
    # Multi-byte characters and \r\n are cut across chunks at chunk sizes 1, 2, 3 ...
    assert split(STREAM, chunk) == (LINES, [])


@pytest.mark.parametrize(
    ("errors", "lines", "action"),
    [
        ("replace", ["ok", "b\ufffdd", "fine"], "replaced"),
        ("strict", ["ok", "fine"], "dropped"),
    ],
)
@pytest.mark.parametrize("chunk", [1, 4, 1000])
def test_undecodable_lines_follow_the_policy(
    errors: str, lines: list[str], action: str, chunk: int
) -> None:
    got, bad = split(b"ok\nb\xffd\nfine\n", chunk, errors=errors)
    assert got == lines
    assert [(b.reason, b.offset, b.length, b.action) for b in bad] == [
        ("undecodable", 3, 3, action)
    ]


@pytest.mark.parametrize("chunk", [1, 3, 6, 1000])
def test_oversized_lines_are_dropped_without_buffering_them(chunk: int) -> None:
    data = b"short\n" + b"x" * 50 + b"\nok\n" + b"y" * 30
    got, bad = split(data, chunk, max_record_bytes=8)
    assert got == ["short", "ok"]
    assert [(b.reason, b.offset, b.action) for b in bad] == [
        ("oversized", 6, "dropped"),
        ("oversized", 60, "dropped"),
    ]


def test_pending_bytes_never_exceed_the_limit() -> None:
    splitter = LineSplitter(max_record_bytes=100)
    for _ in range(1000):
        splitter.feed(b"z" * 64)  # one endless line
        assert len(splitter._pending) <= 100
    assert splitter.feed(b"\nnext\n") == (["next"], [])


def test_a_line_of_exactly_the_limit_is_kept() -> None:
    assert split(b"12345678\n123456789\n", 4, max_record_bytes=8)[0] == ["12345678"]


def test_encodings_must_keep_newline_a_single_byte() -> None:
    with pytest.raises(ValueError, match="not ASCII-compatible"):
        LineSplitter(encoding="utf-16")
    assert split("été\n".encode("latin-1"), 2, encoding="latin-1") == (["été"], [])
