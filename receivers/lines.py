"""Splitting a byte stream into text lines, in bulk, with bad input counted.

:class:`LineSplitter` takes chunks as they arrive (``feed``) and returns the
complete lines in them. It splits on ``b"\\n"`` (a trailing ``"\\r"`` is
removed, so ``\\r\\n`` works; a lone ``\\r`` is not a line end: a deliberate
departure from Java's ``readLine``) and decodes all complete lines of a chunk
with one ``decode`` call; only a chunk that fails to decode, or that may hold
an oversized line, is looked at line by line. The encoding must be
ASCII-compatible (UTF-8, the default, Latin-1 ...): a newline is the byte 0x0A.

Bad input never raises; each bad line comes back as a :class:`BadLine` with
its byte offset in the stream:

- undecodable bytes, ``errors="replace"`` (the default, like Spark's
  ``socketTextStream``): the line is kept with U+FFFD and reported as
  ``undecodable`` with ``action="replaced"``;
- undecodable bytes, ``errors="strict"``: the line is dropped
  (``action="dropped"``);
- a line longer than ``max_record_bytes``: dropped as ``oversized``; the
  splitter stops buffering it at once and discards bytes until the next newline.

>>> splitter = LineSplitter(max_record_bytes=8)
>>> splitter.feed(b"one\\ntw")
(['one'], [])
>>> splitter.feed(b"o\\r\\nbad \\xff\\nmuch too long\\nok\\n")   # doctest: +NORMALIZE_WHITESPACE
(['two', 'bad \\ufffd', 'ok'],
 [BadLine(reason='undecodable', offset=9, length=5, action='replaced', message="'utf-8' codec can't decode byte 0xff in position 4: invalid start byte"),
  BadLine(reason='oversized', offset=15, length=13, action='dropped', message='line longer than 8 bytes')])
>>> splitter.feed(b"last line without newline"), splitter.finish()
(([], [BadLine(reason='oversized', offset=32, length=25, action='dropped', message='line longer than 8 bytes')]), ([], []))
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["DECODE_POLICIES", "BadLine", "LineSplitter"]

DECODE_POLICIES = ("replace", "strict")
DEFAULT_MAX_RECORD_BYTES = 1 << 20


class BadLine(NamedTuple):
    """A rejected or repaired line: why, where it starts in the stream, its length so far."""

    reason: str  # "undecodable" or "oversized"
    offset: int  # byte offset of the line's first byte since the stream began
    length: int  # bytes of the line seen (for an oversized line: when it was rejected)
    action: str  # "replaced" (kept) or "dropped"
    message: str


class LineSplitter:
    """Turn byte chunks into decoded lines; see the module docstring for the rules.

    >>> LineSplitter(errors="ignore")
    Traceback (most recent call last):
    ...
    ValueError: errors must be one of ('replace', 'strict'), got 'ignore'
    """

    def __init__(
        self,
        encoding: str = "utf-8",
        errors: str = "replace",
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ) -> None:
        if errors not in DECODE_POLICIES:
            raise ValueError(f"errors must be one of {DECODE_POLICIES}, got {errors!r}")
        if (
            isinstance(max_record_bytes, bool)
            or not isinstance(max_record_bytes, int)
            or max_record_bytes < 1
        ):
            raise ValueError(f"max_record_bytes must be an int >= 1, got {max_record_bytes!r}")
        if "\n".encode(encoding) != b"\n":
            raise ValueError(
                f"encoding {encoding!r} is not ASCII-compatible: a newline is not the byte 0x0A"
            )
        self.encoding = encoding
        self.errors = errors
        self.max_record_bytes = max_record_bytes
        self.offset = 0  # bytes fed so far
        self._pending = bytearray()  # the start of an unfinished line
        self._pending_offset = 0
        self._discarding = False  # inside an oversized line: drop bytes until a newline

    def feed(self, data: bytes) -> tuple[list[str], list[BadLine]]:
        """The complete lines ending in ``data`` (with what came before), and the bad ones."""
        start = self.offset
        self.offset += len(data)
        bad: list[BadLine] = []
        if self._discarding:
            newline = data.find(b"\n")
            if newline < 0:
                return [], bad
            self._discarding = False
            data = data[newline + 1 :]
            start += newline + 1
        last = data.rfind(b"\n")
        if last < 0:
            self._keep_partial(data, start, bad)
            return [], bad
        if self._pending:
            body_offset = self._pending_offset
            self._pending += data[:last]
            body = bytes(self._pending)
            self._pending.clear()
        else:
            body_offset = start
            body = data[:last]
        lines = self._split(body, body_offset, bad)
        self._keep_partial(data[last + 1 :], start + last + 1, bad)
        return lines, bad

    def finish(self) -> tuple[list[str], list[BadLine]]:
        """At the end of the stream: the unfinished last line (if any) is a line too."""
        bad: list[BadLine] = []
        lines: list[str] = []
        if self._pending and not self._discarding:
            lines = self._split(bytes(self._pending), self._pending_offset, bad)
        self._pending.clear()
        self._discarding = False
        return lines, bad

    def _keep_partial(self, data: bytes, offset: int, bad: list[BadLine]) -> None:
        if not data:
            return
        if not self._pending:
            self._pending_offset = offset
        if len(self._pending) + len(data) > self.max_record_bytes:
            length = len(self._pending) + len(data)
            self._pending.clear()
            self._discarding = True
            bad.append(self._oversized(self._pending_offset, length))
            return
        self._pending += data

    def _split(self, body: bytes, offset: int, bad: list[BadLine]) -> list[str]:
        if len(body) <= self.max_record_bytes:
            try:
                text = body.decode(self.encoding)
            except UnicodeDecodeError:
                pass
            else:
                lines = text.split("\n")
                if "\r" in text:
                    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
                return lines
        return self._split_slowly(body, offset, bad)

    def _split_slowly(self, body: bytes, offset: int, bad: list[BadLine]) -> list[str]:
        lines: list[str] = []
        for raw in body.split(b"\n"):
            line_offset = offset
            offset += len(raw) + 1
            if len(raw) > self.max_record_bytes:
                bad.append(self._oversized(line_offset, len(raw)))
                continue
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            try:
                lines.append(raw.decode(self.encoding))
            except UnicodeDecodeError as exc:
                if self.errors == "replace":
                    lines.append(raw.decode(self.encoding, errors="replace"))
                    action = "replaced"
                else:
                    action = "dropped"
                bad.append(BadLine("undecodable", line_offset, len(raw), action, str(exc)))
        return lines

    def _oversized(self, offset: int, length: int) -> BadLine:
        return BadLine(
            "oversized",
            offset,
            length,
            "dropped",
            f"line longer than {self.max_record_bytes} bytes",
        )
