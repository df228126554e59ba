"""FileScanner: PySpark's file stream rules, with modification times set by os.utime."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dstream.receivers import FileScanner, read_binary_records

START = 1_700_000_000_000  # the stream's start (ms); batches every second after it


def put(directory: Path, name: str, mtime_ms: int, content: bytes = b"x\n") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, ns=(mtime_ms * 1_000_000, mtime_ms * 1_000_000))
    return path


def names(paths: list[str]) -> list[str]:
    return [os.path.basename(p) for p in paths]


def batches(scanner: FileScanner, *times: int) -> list[list[str]]:
    """Select for consecutive batch times (1 s apart unless given), oldest first."""
    out = []
    for time_ms in times:
        out.append(names(scanner.select(time_ms, time_ms - 1000)))
    return out


def test_a_file_goes_to_the_first_batch_at_or_after_its_modification_time(tmp_path: Path) -> None:
    scanner = FileScanner(tmp_path, start_time_ms=START)
    put(tmp_path, "at-batch.txt", START + 1000)  # exactly the batch time: this batch
    put(tmp_path, "between.txt", START + 1500)
    put(tmp_path, "future.txt", START + 60_000)  # waits until its time comes
    assert batches(scanner, START + 1000, START + 2000, START + 3000) == [
        ["at-batch.txt"],
        ["between.txt"],
        [],
    ]
    assert batches(scanner, START + 60_000) == [["future.txt"]]


def test_each_file_is_selected_once_even_when_touched_again(tmp_path: Path) -> None:
    scanner = FileScanner(tmp_path, start_time_ms=START)
    path = put(tmp_path, "a.txt", START + 100)
    assert batches(scanner, START + 1000) == [["a.txt"]]
    os.utime(path, ns=((START + 1500) * 1_000_000,) * 2)  # rewritten in place: not seen again
    assert batches(scanner, START + 2000, START + 3000) == [[], []]


def test_files_older_than_the_start_hidden_names_and_directories_are_ignored(
    tmp_path: Path,
) -> None:
    scanner = FileScanner(tmp_path, start_time_ms=START)
    put(tmp_path, "before-start.txt", START - 1)
    put(tmp_path, ".part-0001.tmp", START + 10)
    put(tmp_path, "_SUCCESS", START + 10)
    put(tmp_path / "subdir", "inner.txt", START + 10)
    os.utime(tmp_path / "subdir", ns=((START + 10) * 1_000_000,) * 2)
    put(tmp_path, "new.txt", START + 10)
    assert batches(scanner, START + 1000) == [["new.txt"]]


def test_old_files_count_without_new_files_only_but_only_inside_the_remember_window(
    tmp_path: Path,
) -> None:
    scanner = FileScanner(
        tmp_path, new_files_only=False, min_remember_ms=60_000, start_time_ms=START
    )
    put(tmp_path, "recent.txt", START - 30_000)
    put(tmp_path, "ancient.txt", START - 3_600_000)  # older than the window: ignored, as in Spark
    assert batches(scanner, START + 1000) == [["recent.txt"]]


def test_a_file_moved_in_late_with_an_old_time_is_ignored(tmp_path: Path) -> None:
    scanner = FileScanner(tmp_path, min_remember_ms=10_000, start_time_ms=START)
    assert batches(scanner, START + 20_000) == [[]]
    put(
        tmp_path, "late.txt", START + 5_000
    )  # appears at batch 21 s, written at 5 s: outside the window
    put(tmp_path, "in-window.txt", START + 12_000)
    assert batches(scanner, START + 21_000) == [["in-window.txt"]]


def test_the_window_is_rounded_up_to_whole_batches_and_old_selections_are_forgotten(
    tmp_path: Path,
) -> None:
    scanner = FileScanner(tmp_path, min_remember_ms=10_000, start_time_ms=START)
    assert scanner.remember_ms(START + 3_000, START) == 12_000  # 3 s batches: 4 of them
    for i in range(5):
        put(tmp_path, f"f{i}.txt", START + 1_000 + i * 3_000)
    selected = [
        names(scanner.select(START + t, START + t - 3_000)) for t in range(3_000, 18_001, 3_000)
    ]
    assert selected == [["f0.txt"], ["f1.txt"], ["f2.txt"], ["f3.txt"], ["f4.txt"], []]
    assert sorted(names(scanner.state()["selected"])) == [
        "f2.txt",
        "f3.txt",
        "f4.txt",
    ]  # f0, f1 left the window


def test_the_filter_sees_full_paths(tmp_path: Path) -> None:
    scanner = FileScanner(tmp_path, filter=lambda path: path.endswith(".csv"), start_time_ms=START)
    put(tmp_path, "a.csv", START + 1)
    put(tmp_path, "b.json", START + 1)
    assert scanner.select(START + 1000, START) == [str(tmp_path / "a.csv")]


def test_state_survives_a_restart_as_json(tmp_path: Path) -> None:
    scanner = FileScanner(tmp_path, start_time_ms=START)
    put(tmp_path, "before-crash.txt", START + 500)
    assert batches(scanner, START + 1000) == [["before-crash.txt"]]
    saved = json.loads(json.dumps(scanner.state()))

    put(tmp_path, "during-downtime.txt", START + 1500)
    restarted = FileScanner(tmp_path)  # a new process: its own start time is "now"
    restarted.restore(saved)
    assert restarted.start_time_ms == START
    assert batches(restarted, START + 2000) == [["during-downtime.txt"]]

    fresh = FileScanner(
        tmp_path, start_time_ms=START
    )  # without the state: the file would be read again
    assert batches(fresh, START + 2000) == [["before-crash.txt", "during-downtime.txt"]]


def test_restore_rejects_state_it_cannot_read(tmp_path: Path) -> None:
    scanner = FileScanner(tmp_path, start_time_ms=START)
    with pytest.raises(ValueError, match="has version 2; this version of dstream reads version 1"):
        scanner.restore({**scanner.state(), "version": 2})
    with pytest.raises(ValueError, match="'selected' must map paths to ms"):
        scanner.restore({**scanner.state(), "selected": ["a"]})


def test_a_missing_directory_gives_no_files(tmp_path: Path) -> None:
    scanner = FileScanner(tmp_path / "not-yet", start_time_ms=START)
    assert scanner.select(START + 1000, START) == []
    put(tmp_path / "not-yet", "a.txt", START + 1500)
    assert names(scanner.select(START + 2000, START + 1000)) == ["a.txt"]


def test_binary_records(tmp_path: Path) -> None:
    path = put(tmp_path, "r.bin", START, bytes(range(12)))
    assert read_binary_records(path, 4) == [
        bytes([0, 1, 2, 3]),
        bytes([4, 5, 6, 7]),
        bytes([8, 9, 10, 11]),
    ]
    assert read_binary_records(put(tmp_path, "empty.bin", START, b""), 4) == []
    with pytest.raises(
        ValueError, match=r"r\.bin: size 12 bytes is not a multiple of the record length 5"
    ):
        read_binary_records(path, 5)
    with pytest.raises(ValueError, match="record_length must be an int >= 1"):
        read_binary_records(path, 0)
