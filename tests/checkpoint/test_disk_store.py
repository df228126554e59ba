"""DiskStore: atomic replace, crash safety, precise corruption reports, torn log tails."""

from __future__ import annotations

import logging
import os
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from pathlib import Path

import pytest

from dstream.checkpoint import open_store
from dstream.checkpoint.disk import DiskStore
from dstream.checkpoint.errors import CheckpointNotFoundError, CorruptCheckpointError
from dstream.checkpoint.framing import HEADER_SIZE, frame_record

ROOT = Path(__file__).resolve().parents[2]


def _path(store: DiskStore, name: str) -> Path:
    return Path(store.directory, *name.split("/"))


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


# -- layout and atomic save ---------------------------------------------------


def test_names_become_files_in_subdirectories(disk_store: DiskStore) -> None:
    disk_store.save("state/reduce-1/00000000000000000007", b"counts")
    path = _path(disk_store, "state/reduce-1/00000000000000000007")
    assert path.is_file()
    assert path.read_bytes()[:4] == b"DSCK"


def test_save_leaves_no_temporary_files(disk_store: DiskStore) -> None:
    for i in range(5):
        disk_store.save("meta/latest", b"v%d" % i)
    assert sorted(os.listdir(_path(disk_store, "meta"))) == ["latest"]


def test_failed_save_keeps_old_bytes_and_removes_its_temp_file(disk_store: DiskStore) -> None:
    disk_store.save("a/b", b"inside a")  # "a" is now a directory
    with pytest.raises(OSError):
        disk_store.save("a", b"cannot replace a directory")
    assert sorted(os.listdir(disk_store.directory)) == ["a"]
    assert disk_store.load("a/b") == b"inside a"


def test_name_under_an_object_is_refused_clearly(disk_store: DiskStore) -> None:
    disk_store.save("meta", b"object")
    with pytest.raises(NotADirectoryError, match="checkpoint name 'meta' is an object"):
        disk_store.save("meta/1", b"x")


def test_concurrent_reader_sees_old_or_new_never_a_mix(disk_store: DiskStore) -> None:
    old, new = b"A" * 200_000, b"B" * 300_000
    disk_store.save("big", old)
    stop = threading.Event()
    seen: list[bytes] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            while not stop.is_set():
                seen.append(disk_store.load("big")[:1])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(30):
            disk_store.save("big", new if i % 2 == 0 else old)
    finally:
        stop.set()
        reader.join()
    assert errors == []
    assert set(seen) <= {b"A", b"B"} and seen


CRASHING_WRITER = textwrap.dedent(
    """
    import sys
    from dstream.checkpoint.disk import DiskStore
    store = DiskStore(sys.argv[1])
    print("ready", flush=True)
    i = 0
    while True:
        store.save("state", (b"A" if i % 2 else b"B") * (1_000_000 + i))
        i += 1
    """
)


def test_writer_killed_mid_save_leaves_a_whole_object(tmp_path: Path) -> None:
    """SIGKILL a process that saves in a loop: the name always loads as one whole save."""
    directory = tmp_path / "ckpt"
    with DiskStore(directory) as store:
        store.save("state", b"initial")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    for delay in (0.05, 0.13, 0.21):
        proc = subprocess.Popen(
            [sys.executable, "-c", CRASHING_WRITER, str(directory)],
            stdout=subprocess.PIPE, env=env,
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == b"ready\n"
            time.sleep(delay)  # let it get somewhere inside a save, then pull the plug
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        with DiskStore(directory) as store:
            payload = store.load("state")
            assert payload == b"initial" or payload == payload[:1] * len(payload)
            assert store.list() == ["state"]  # leftover temp files are hidden


# -- listing, deleting, names -------------------------------------------------


def test_list_ignores_hidden_temp_files(disk_store: DiskStore) -> None:
    disk_store.save("meta/1", b"x")
    (_path(disk_store, "meta") / ".1.abc.tmp").write_bytes(b"half-written")
    (Path(disk_store.directory) / ".hidden-dir").mkdir()
    (Path(disk_store.directory) / ".hidden-dir" / "f").write_bytes(b"")
    assert disk_store.list() == ["meta/1"]


def test_names_cannot_escape_the_directory(disk_store: DiskStore) -> None:
    for name in ["../x", "a/../../x", "/etc/passwd"]:
        with pytest.raises(ValueError, match="invalid checkpoint name"):
            disk_store.load(name)
        with pytest.raises(ValueError, match="invalid checkpoint name"):
            disk_store.delete(name)


def test_store_reopens_with_its_data(tmp_path: Path) -> None:
    with DiskStore(tmp_path) as store:
        store.save("meta/1", b"x")
        store.append("wal/0", b"r")
    with DiskStore(tmp_path) as store:
        assert store.load("meta/1") == b"x"
        assert store.read_log("wal/0") == [b"r"]


def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = DiskStore(tmp_path)
    store.close()
    with pytest.raises(ValueError, match="is closed"):
        store.save("x", b"")


def test_missing_file_message_names_the_path(disk_store: DiskStore) -> None:
    with pytest.raises(CheckpointNotFoundError) as info:
        disk_store.load("meta/9")
    assert str(info.value) == f"no checkpoint file {_path(disk_store, 'meta/9')}"


# -- corruption reports ---------------------------------------------------------


def test_flipped_byte_reports_both_checksums(disk_store: DiskStore) -> None:
    disk_store.save("meta/1", b"hello world")
    path = _path(disk_store, "meta/1")
    _flip(path, HEADER_SIZE + 4)
    expected, actual = zlib.crc32(b"hello world"), zlib.crc32(path.read_bytes()[HEADER_SIZE:])
    with pytest.raises(CorruptCheckpointError) as info:
        disk_store.load("meta/1")
    assert str(info.value) == (
        f"{path}: checksum mismatch: header says crc32 {expected:#010x}, "
        f"payload has crc32 {actual:#010x}"
    )


def test_truncated_file(disk_store: DiskStore) -> None:
    disk_store.save("meta/1", bytes(100))
    path = _path(disk_store, "meta/1")
    os.truncate(path, HEADER_SIZE + 37)
    with pytest.raises(CorruptCheckpointError) as info:
        disk_store.load("meta/1")
    assert str(info.value) == f"{path}: truncated: expected 100 payload bytes, got 37"


def test_empty_file(disk_store: DiskStore) -> None:
    disk_store.save("meta/1", b"x")
    path = _path(disk_store, "meta/1")
    os.truncate(path, 0)
    with pytest.raises(CorruptCheckpointError) as info:
        disk_store.load("meta/1")
    assert str(info.value) == f"{path}: truncated: expected a {HEADER_SIZE}-byte header, got 0 bytes"


def test_wrong_magic(disk_store: DiskStore) -> None:
    disk_store.save("meta/1", b"x")
    path = _path(disk_store, "meta/1")
    path.write_bytes(b'{"json": "not ours"}')
    with pytest.raises(CorruptCheckpointError) as info:
        disk_store.load("meta/1")
    assert str(info.value) == f"{path}: bad magic b'{{\"js' (expected b'DSCK')"


def test_unknown_version(disk_store: DiskStore) -> None:
    disk_store.save("meta/1", b"x")
    path = _path(disk_store, "meta/1")
    data = bytearray(path.read_bytes())
    struct.pack_into(">H", data, 4, 2)
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptCheckpointError, match=r"unknown format version 2 \(this build reads version 1\)"):
        disk_store.load("meta/1")


def test_log_loaded_as_object(disk_store: DiskStore) -> None:
    disk_store.append("wal/0", b"r")
    with pytest.raises(CorruptCheckpointError, match="this is a log record, not a saved object"):
        disk_store.load("wal/0")


# -- logs -----------------------------------------------------------------------


@pytest.mark.parametrize("cut", [1, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 2])
def test_torn_tail_is_reported_and_dropped(disk_store: DiskStore, cut: int) -> None:
    for record in (b"r0", b"r1", b"r22"):
        disk_store.append("wal/seg", record)
    path = _path(disk_store, "wal/seg")
    good = 2 * len(frame_record(b"r0"))
    os.truncate(path, good + cut)
    reports: list[tuple[str, CorruptCheckpointError]] = []
    assert disk_store.read_log("wal/seg", lambda n, e: reports.append((n, e))) == [b"r0", b"r1"]
    [(name, error)] = reports
    assert name == "wal/seg"
    assert str(error).startswith(f"{path}: record 2 at byte {good}: truncated: expected ")


def test_append_after_torn_tail_cuts_it_off(tmp_path: Path) -> None:
    with DiskStore(tmp_path) as store:
        store.append("wal/seg", b"kept")
        store.append("wal/seg", b"torn")
    path = tmp_path / "wal" / "seg"
    os.truncate(path, path.stat().st_size - 2)  # the crash hit mid-append
    reports: list[str] = []
    with DiskStore(tmp_path, on_corrupt=lambda name, err: reports.append(name)) as store:
        store.append("wal/seg", b"after restart")
        assert reports == ["wal/seg"]
        assert store.read_log("wal/seg") == [b"kept", b"after restart"]
        assert reports == ["wal/seg"]


def test_flipped_byte_in_log_keeps_the_records_before(disk_store: DiskStore) -> None:
    for record in (b"aaaa", b"bbbb", b"cccc"):
        disk_store.append("wal/seg", record)
    path = _path(disk_store, "wal/seg")
    size = len(frame_record(b"aaaa"))
    _flip(path, size + HEADER_SIZE + 1)
    errors: list[CorruptCheckpointError] = []
    assert disk_store.read_log("wal/seg", lambda n, e: errors.append(e)) == [b"aaaa"]
    assert f"record 1 at byte {size}: checksum mismatch" in str(errors[0])


def test_default_report_is_a_logged_warning(
    disk_store: DiskStore, caplog: pytest.LogCaptureFixture
) -> None:
    disk_store.append("wal/seg", b"whole")
    with open(_path(disk_store, "wal/seg"), "ab") as f:
        f.write(b"DSLR")
    with caplog.at_level(logging.WARNING, logger="checkpoint"):
        assert disk_store.read_log("wal/seg") == [b"whole"]
    assert "dropping torn or corrupt tail of checkpoint log 'wal/seg'" in caplog.text


# -- open_store -------------------------------------------------------------------


@pytest.mark.parametrize("form", ["{p}", "file://{p}", "file://localhost{p}"])
def test_open_store_paths_and_file_urls(tmp_path: Path, form: str) -> None:
    with open_store(form.format(p=tmp_path)) as store:
        assert isinstance(store, DiskStore)
        assert store.directory == str(tmp_path.resolve())


def test_open_store_refuses_remote_file_urls_and_unknown_schemes() -> None:
    with pytest.raises(ValueError, match="names host 'server'"):
        open_store("file://server/share")
    with pytest.raises(ValueError, match="unsupported checkpoint location 'hdfs://nn/x'"):
        open_store("hdfs://nn/x")
