"""saveAsTextFiles written idempotently: whole directories renamed into place, a re-run batch
replaced with the same content, leftovers of a crashed write removed, empty batches skipped
on request."""

from __future__ import annotations

import os
from typing import Any

import pytest

from dstream import Context, StreamingContext
from dstream.streaming.sinks.text_files import save_batch_as_text_files
from dstream.streaming.testing import advance_batch


def read_dir(path: Any) -> dict[str, str]:
    return {name: (path / name).read_text() for name in sorted(os.listdir(path))}


@pytest.mark.parametrize("ctx", ["local", "local[2]"], indirect=True)
def test_a_rerun_batch_replaces_its_directory_with_the_same_content(ctx: Context, tmp_path: Any) -> None:
    target = tmp_path / "totals-1000"
    rdd = ctx.parallelize([("a", 1), ("b", 2), ("c", 3)], 2)
    assert save_batch_as_text_files(rdd, os.fspath(target)) == 3
    first = read_dir(target)
    # what a write killed half-way leaves: a hidden temporary and an old copy set aside
    (tmp_path / ".totals-1000.tmp-dead").mkdir()
    (tmp_path / ".totals-1000.tmp-dead" / "part-00000").write_text("partial\n")
    (tmp_path / ".totals-1000.old-dead").mkdir()
    assert save_batch_as_text_files(rdd, os.fspath(target)) == 3
    assert read_dir(target) == first
    assert first == {"_SUCCESS": "", "part-00000": "('a', 1)\n", "part-00001": "('b', 2)\n('c', 3)\n"}
    assert os.listdir(tmp_path) == ["totals-1000"]


def test_a_failed_write_leaves_no_directory(ctx: Context, tmp_path: Any) -> None:
    ctx._conf.set("dstream.task.maxFailures", "1")

    def explode(x: int) -> int:
        if x == 3:
            raise ValueError("boom at 3")
        return x

    target = tmp_path / "out-1000"
    with pytest.raises(ValueError, match="boom at 3"):
        save_batch_as_text_files(ctx.parallelize([1, 2, 3, 4], 2).map(explode), os.fspath(target))
    assert os.listdir(tmp_path) == []


def test_a_failed_rerun_keeps_the_earlier_complete_copy(ctx: Context, tmp_path: Any) -> None:
    ctx._conf.set("dstream.task.maxFailures", "1")
    target = tmp_path / "out-1000"
    save_batch_as_text_files(ctx.parallelize([1, 2], 1), os.fspath(target))

    def explode(x: int) -> int:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        save_batch_as_text_files(ctx.parallelize([1, 2], 1).map(explode), os.fspath(target))
    assert read_dir(target) == {"_SUCCESS": "", "part-00000": "1\n2\n"}
    assert os.listdir(tmp_path) == ["out-1000"]


def test_skip_empty_writes_no_directory_for_an_empty_batch(ssc: StreamingContext, tmp_path: Any) -> None:
    prefix = os.fspath(tmp_path / "words")
    ssc.queueStream([["a"], [], ["b", "c"]]).saveAsTextFiles(prefix, "txt", skipEmpty=True)
    ssc.start()
    for _ in range(3):
        advance_batch(ssc)
    ssc.awaitTerminationOrTimeout(0)
    assert sorted(os.listdir(tmp_path)) == ["words-1000.txt", "words-3000.txt"]
    assert (tmp_path / "words-3000.txt" / "part-00000").read_text() == "b\nc\n"


def test_skip_empty_removes_the_directory_of_an_earlier_run(ctx: Context, tmp_path: Any) -> None:
    target = tmp_path / "out-1000"
    save_batch_as_text_files(ctx.parallelize([1], 1), os.fspath(target))
    assert save_batch_as_text_files(ctx.parallelize([], 1), os.fspath(target), skip_empty=True) == 0
    assert os.listdir(tmp_path) == []


def test_skip_empty_must_be_a_bool(ssc: StreamingContext, tmp_path: Any) -> None:
    with pytest.raises(TypeError, match="skipEmpty must be True or False, got 'yes'"):
        ssc.queueStream([]).saveAsTextFiles(os.fspath(tmp_path / "x"), skipEmpty="yes")  # type: ignore[arg-type]
