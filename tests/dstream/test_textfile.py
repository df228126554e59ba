"""textFile, wholeTextFiles and saveAsTextFile on real files."""

from __future__ import annotations

import os
import re
import tempfile
import unittest.mock
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dstream import Context, InputDecodeError, textfiles

from .conftest import PROPERTY_SETTINGS, examples


def expected_lines(text: str) -> list[str]:
    """Hadoop's TextInputFormat lines: a line ends at \\n, \\r or \\r\\n; no empty last line."""
    if not text:
        return []
    lines = re.split("\r\n|\r|\n", text)
    if text.endswith(("\n", "\r")):
        lines.pop()
    return lines


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("text", ["one\ntwo\nthree", "one\ntwo\n", "\n\na\n\n", "a\r\nb\r\n", "", "x",
                                  "ünï\ncødé 🎉\n", "\n", "old\rmac\r", "a\r\rb\n\r", "\r\n\r\n"])
def test_text_file_lines(ctx: Context, tmp_path: Path, text: str) -> None:
    f = write(tmp_path / "in.txt", text)
    assert ctx.textFile(str(f)).collect() == expected_lines(text)
    assert ctx.textFile(str(f), 5).collect() == expected_lines(text)


def test_text_file_splits_like_hadoop(ctx: Context, tmp_path: Path) -> None:
    f = write(tmp_path / "in.txt", "".join(f"{i:03d}456789\n" for i in range(10)))   # 100 bytes
    rdd = ctx.textFile(str(f), 3)
    assert rdd.getNumPartitions() == 3
    assert rdd.collect() == [f"{i:03d}456789" for i in range(10)]
    assert sum(rdd.glom().map(len).collect()) == 10
    assert ctx.textFile(str(f)).getNumPartitions() == ctx.defaultMinPartitions


@pytest.mark.parametrize("min_partitions", [1, 2, 3, 7, 20, 64])
def test_every_line_read_once_whatever_the_split(ctx: Context, tmp_path: Path, min_partitions: int) -> None:
    text = "".join("x" * (i % 13) + "é" * (i % 3) + "\n" for i in range(60)) + "tail"
    f = write(tmp_path / "in.txt", text)
    assert ctx.textFile(str(f), min_partitions).collect() == expected_lines(text)


def test_text_file_lines_property(ctx: Context, tmp_path: Path) -> None:
    alphabet = st.sampled_from(["a", "b", " ", "\n", "\r", "é", "€", "😀", "\r\n"])

    @examples(ctx, local=150, processes=10)
    @given(text=st.lists(alphabet, max_size=120).map("".join), min_partitions=st.integers(1, 40))
    def check(text: str, min_partitions: int) -> None:
        f = write(tmp_path / "prop.txt", text)
        assert ctx.textFile(str(f), min_partitions).collect() == expected_lines(text)

    check()


@settings(PROPERTY_SETTINGS, max_examples=300)
@given(text=st.lists(st.sampled_from(["a", "bc", "\n", "\r", "\r\n", "é", "😀", ""]), max_size=60).map("".join),
       min_partitions=st.integers(1, 30), chunk=st.integers(1, 9))
def test_splits_and_read_chunks_never_lose_or_repeat_a_line(text: str, min_partitions: int,
                                                          chunk: int) -> None:
    """Every split boundary and every read-chunk size (down to one byte) gives the same lines."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "in.txt")
        with open(path, "wb") as f:
            f.write(text.encode("utf-8"))
        with unittest.mock.patch.object(textfiles, "_READ_CHUNK", chunk):
            lines = [line for split in textfiles.plan_splits([path], min_partitions)
                     for line in textfiles.read_split(*split)]
    assert lines == expected_lines(text)


def test_text_file_over_a_directory(ctx: Context, tmp_path: Path) -> None:
    d = tmp_path / "dir"
    write(d / "b.txt", "b1\nb2\n")
    write(d / "a.txt", "a1\n")
    write(d / "empty.txt", "")
    write(d / ".hidden", "no\n")
    write(d / "_SUCCESS", "no\n")
    (d / "sub").mkdir()
    rdd = ctx.textFile(str(d), 1)
    assert rdd.collect() == ["a1", "b1", "b2"]
    assert rdd.getNumPartitions() == 3           # an empty file still has its (empty) split
    assert ctx.textFile(str(d), 2).getNumPartitions() == 4     # 10 bytes: b.txt (6) > 1.1 * 5


def test_text_file_over_a_glob_and_a_list(ctx: Context, tmp_path: Path) -> None:
    write(tmp_path / "g" / "x1.log", "one\n")
    write(tmp_path / "g" / "x2.log", "two\n")
    write(tmp_path / "g" / "y.txt", "other\n")
    assert ctx.textFile(str(tmp_path / "g" / "x*.log")).collect() == ["one", "two"]
    both = f"{tmp_path / 'g' / 'y.txt'},{tmp_path / 'g' / 'x2.log'}"
    assert ctx.textFile(both).collect() == ["other", "two"]
    assert ctx.textFile("file://" + str(tmp_path / "g" / "y.txt")).collect() == ["other"]


def test_missing_input_is_a_clear_error(ctx: Context, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="Input path does not exist"):
        ctx.textFile(str(tmp_path / "nope.txt"))
    with pytest.raises(FileNotFoundError, match=r"nothing\*"):
        ctx.textFile(str(tmp_path / "nothing*"))


def test_invalid_utf8_names_the_file(ctx: Context, tmp_path: Path) -> None:
    f = write(tmp_path / "bad.txt", b"fine\nbad \xff\xfe here\n")
    with pytest.raises(InputDecodeError) as info:
        ctx.textFile(str(f)).collect()
    message = str(info.value)
    assert str(f) in message
    assert "offset 9" in message and "UTF-8" in message
    assert isinstance(info.value, ValueError)
    with pytest.raises(InputDecodeError, match="bad.txt"):
        ctx.wholeTextFiles(str(tmp_path)).collect()


def test_whole_text_files(ctx: Context, tmp_path: Path) -> None:
    d = tmp_path / "whole"
    contents = {f"f{i}.txt": f"file {i}\nline two ü\n" * (i + 1) for i in range(5)}
    for name, text in contents.items():
        write(d / name, text)
    write(d / "_ignored", "x")
    rdd = ctx.wholeTextFiles(str(d), 3)
    assert rdd.getNumPartitions() == 3
    got = rdd.collect()
    assert [path for path, _ in got] == [f"file:{d / name}" for name in sorted(contents)]
    assert {os.path.basename(p): text for p, text in got} == contents
    assert ctx.wholeTextFiles(str(d / "f1.txt")).collect() == [(f"file:{d / 'f1.txt'}", contents["f1.txt"])]


@pytest.mark.parametrize("n", [1, 3])
def test_save_as_text_file_round_trip(ctx: Context, tmp_path: Path, n: int) -> None:
    data = [1, "two", ("t", 3), None, "ünï 😀", b"bytes"]
    out = tmp_path / "out"
    ctx.parallelize(data, n).saveAsTextFile(str(out))
    names = sorted(os.listdir(out))
    assert names == ["_SUCCESS"] + [f"part-{i:05d}" for i in range(n)]
    assert ctx.textFile(str(out)).collect() == ["1", "two", "('t', 3)", "None", "ünï 😀", "bytes"]
    with pytest.raises(FileExistsError, match="already exists"):
        ctx.parallelize(data, n).saveAsTextFile(str(out))


def test_save_empty_partitions(ctx: Context, tmp_path: Path) -> None:
    out = tmp_path / "empty-out"
    ctx.parallelize([], 2).saveAsTextFile(str(out))
    assert (out / "part-00000").read_bytes() == b"" and (out / "part-00001").read_bytes() == b""
    assert ctx.textFile(str(out)).collect() == []
