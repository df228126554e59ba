"""WriteAheadLog: rolling segments, replay in order, cleaning, restart, torn tails."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from dstream.checkpoint.disk import DiskStore
from dstream.checkpoint.errors import CheckpointNotFoundError, CorruptCheckpointError
from dstream.checkpoint.store import CheckpointStore
from dstream.checkpoint.wal import SegmentPointer, WriteAheadLog


def seg(start_ms: int) -> str:
    return f"wal/r0/{start_ms:020d}"


def test_records_replay_in_order_with_their_times(any_store: CheckpointStore) -> None:
    wal = WriteAheadLog(any_store, "wal/r0", roll_interval_s=1)
    written = [(t, b"block-%d" % t) for t in (0, 200, 400, 1000, 1200, 5000)]
    for time_ms, record in written:
        wal.write(record, time_ms)
    assert list(wal.read_all()) == written


def test_segments_roll_by_interval_and_carry_their_start_time(any_store: CheckpointStore) -> None:
    wal = WriteAheadLog(any_store, "wal/r0", roll_interval_s=1)
    pointers = [wal.write(b"x", t) for t in (100, 999, 1099, 1100, 1101, 7000)]
    assert [p.segment for p in pointers] == [seg(100)] * 3 + [seg(1100)] * 2 + [seg(7000)]
    assert [p.index for p in pointers] == [0, 1, 2, 0, 1, 0]
    assert wal.segments() == [seg(100), seg(1100), seg(7000)]


def test_read_by_pointer(any_store: CheckpointStore) -> None:
    wal = WriteAheadLog(any_store, "wal/r0")
    pointers = [wal.write(b"rec-%d" % i, i * 10) for i in range(5)]
    assert [wal.read(p) for p in pointers] == [b"rec-%d" % i for i in range(5)]
    with pytest.raises(CheckpointNotFoundError, match="has 5 records, no record 9"):
        wal.read(SegmentPointer(pointers[0].segment, 9, 0))
    with pytest.raises(CorruptCheckpointError, match="record 1 has time 10 ms, pointer says 11 ms"):
        wal.read(SegmentPointer(pointers[0].segment, 1, 11))


def test_clean_drops_whole_segments_older_than_the_threshold(any_store: CheckpointStore) -> None:
    wal = WriteAheadLog(any_store, "wal/r0", roll_interval_s=1)
    for t in (0, 900, 1000, 1500, 2000, 2100):
        wal.write(b"%d" % t, t)
    wal.clean(older_than_ms=1500)  # segment 1000 holds 1500: not older, kept whole
    assert wal.segments() == [seg(1000), seg(2000)]
    assert [t for t, _ in wal.read_all()] == [1000, 1500, 2000, 2100]
    wal.clean(older_than_ms=1501)
    assert wal.segments() == [seg(2000)]


def test_clean_of_the_current_segment_starts_a_new_one(any_store: CheckpointStore) -> None:
    wal = WriteAheadLog(any_store, "wal/r0", roll_interval_s=60)
    wal.write(b"old", 0)
    wal.clean(older_than_ms=10)
    assert wal.segments() == []
    assert wal.write(b"new", 20).segment == seg(20)
    assert list(wal.read_all()) == [(20, b"new")]


def test_restarted_log_replays_and_cleans_what_the_old_one_wrote(any_store: CheckpointStore) -> None:
    first = WriteAheadLog(any_store, "wal/r0", roll_interval_s=1)
    for t in (0, 500, 1000, 1500):
        first.write(b"%d" % t, t)
    first.close()
    second = WriteAheadLog(any_store, "wal/r0", roll_interval_s=1)
    assert [t for t, _ in second.read_all()] == [0, 500, 1000, 1500]
    second.clean(older_than_ms=600)  # reads segment 0 to learn its newest record is 500
    assert second.segments() == [seg(1000)]


def test_restart_reusing_a_segment_name_continues_its_indexes(any_store: CheckpointStore) -> None:
    first = WriteAheadLog(any_store, "wal/r0")
    first.write(b"a", 0)
    first.write(b"b", 10)
    second = WriteAheadLog(any_store, "wal/r0")
    pointer = second.write(b"c", 0)
    assert pointer == SegmentPointer(seg(0), 2, 0)
    assert second.read(pointer) == b"c"
    assert [r for _, r in second.read_all()] == [b"a", b"b", b"c"]


def test_logs_with_different_prefixes_are_separate(any_store: CheckpointStore) -> None:
    a = WriteAheadLog(any_store, "wal/r0")
    b = WriteAheadLog(any_store, "wal/r01")
    a.write(b"a", 1)
    b.write(b"b", 2)
    assert list(a.read_all()) == [(1, b"a")]
    assert list(b.read_all()) == [(2, b"b")]


def test_torn_tail_of_a_segment_is_reported_and_the_rest_replayed(tmp_path: Path) -> None:
    store = DiskStore(tmp_path)
    wal = WriteAheadLog(store, "wal/r0", roll_interval_s=1)
    for t in (0, 100, 200, 1000):
        wal.write(b"record-%d" % t, t)
    path = tmp_path / "wal" / "r0" / f"{0:020d}"
    os.truncate(path, path.stat().st_size - 3)
    reports: list[str] = []
    restarted = WriteAheadLog(store, "wal/r0", on_corrupt=lambda name, err: reports.append(name))
    assert [t for t, _ in restarted.read_all()] == [0, 100, 1000]
    assert reports == [seg(0)]


def test_concurrent_writers_lose_nothing(disk_store: DiskStore) -> None:
    wal = WriteAheadLog(disk_store, "wal/r0", roll_interval_s=0.05)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(25):
                wal.write(b"%d-%d" % (worker, i), i * 10)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r for _, r in wal.read_all()) == sorted(
        b"%d-%d" % (w, i) for w in range(4) for i in range(25)
    )


def test_argument_checks(disk_store: DiskStore) -> None:
    with pytest.raises(ValueError, match="roll_interval_s must be a number > 0, got 0"):
        WriteAheadLog(disk_store, "wal/r0", roll_interval_s=0)
    with pytest.raises(ValueError, match="invalid checkpoint name"):
        WriteAheadLog(disk_store, "wal/../r0")
    wal = WriteAheadLog(disk_store, "wal/r0")
    with pytest.raises(ValueError, match="time_ms must be an int >= 0, got -1"):
        wal.write(b"x", -1)
    with pytest.raises(TypeError, match="record must be bytes, got str"):
        wal.write("x", 0)  # type: ignore[arg-type]
    wal.close()
    with pytest.raises(ValueError, match="is closed"):
        wal.write(b"x", 0)
