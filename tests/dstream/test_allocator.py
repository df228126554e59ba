"""The malloc thresholds: memory a job frees goes back to the system, in the driver and workers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dstream import Conf, Context, allocator

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="the thresholds are glibc's")

_CHURN = """
import os, random, sys, threading
from dstream import allocator
if sys.argv[1] == "tuned":
    assert allocator.tune_this_process()
def rss_mib():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
# freeing a mapped 8 MiB buffer raises glibc's dynamic mmap threshold to 8 MiB
buffer = bytearray(8 << 20)
del buffer
before = rss_mib()
sizes = random.Random(1)
pins = []
def receive():
    # blocks of 0.1-2 MB made in a thread, ten alive at a time, a small object kept after each
    alive = []
    for _ in range(3000):
        alive.append(bytes(sizes.randrange(100_000, 2_000_000)))
        pins.append(bytes(600))
        if len(alive) > 10:
            alive.pop(0)
for _ in range(2):
    thread = threading.Thread(target=receive)
    thread.start()
    thread.join()
print(rss_mib() - before)
"""


def _kept_after_free(mode: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", _CHURN, mode], env=env, check=True,
                         capture_output=True, text=True).stdout
    return float(out)


def test_freed_buffers_go_back_to_the_system_only_with_the_thresholds_fixed() -> None:
    # 6,000 blocks (6 GB) made and freed, at most 10 alive at a time (20 MB)
    assert _kept_after_free("default") > 30       # glibc's defaults keep the freed blocks' heap
    assert _kept_after_free("tuned") < 15


@pytest.mark.parametrize("tune, expected", [(True, str(allocator.THRESHOLD_BYTES)), (False, None)])
def test_process_workers_start_with_the_thresholds_unless_turned_off(
        monkeypatch: pytest.MonkeyPatch, tune: bool, expected: str | None) -> None:
    for name in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    conf = Conf().set(allocator.SETTING, str(tune).lower())
    with Context("local[2]", conf=conf) as sc:
        seen = sc.parallelize(range(2), 2).map(
            lambda _: (os.environ.get("MALLOC_TRIM_THRESHOLD_"),
                       os.environ.get("MALLOC_MMAP_THRESHOLD_"))).collect()
    assert seen == [(expected, expected)] * 2


def test_a_threshold_the_user_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    with Context("local[2]") as sc:
        seen = sc.parallelize(range(2), 2).map(
            lambda _: os.environ["MALLOC_TRIM_THRESHOLD_"]).collect()
    assert seen == ["65536", "65536"]
