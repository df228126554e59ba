"""The word-count jobs in ``jobs/``: what they write per batch is exactly what they were fed.

- The socket job runs as ``python jobs/wordcount_socket.py --demo`` (a real process reading
  its own demo feed over TCP). The feed sends ``jobs/data/sample.txt`` line by line in a loop,
  so after any batch the running totals are the word counts of the first n lines of that loop,
  for one n; and the window is the totals now minus the totals one window ago.
- The files job runs in-process on the manual clock (``build`` from the job file, a
  ``StreamingContext`` made here), one batch per step, files moved into the watched directory
  with their modification times stamped, across a stop and a ``getOrCreate`` restart.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dstream import Context, StreamingContext
from dstream.streaming.testing import advance_batch
from dstream.service.jobs import JobModule, load_job

ROOT = Path(__file__).resolve().parents[2]
JOBS = ROOT / "jobs"
SAMPLE = [line.strip() for line in (JOBS / "data" / "sample.txt").read_text(encoding="utf-8").splitlines()
          if line.strip()]
ALL_WORDS = 1000            # a --top above the number of distinct words: the files hold every count


def ordered(counts: collections.Counter[str], top: int = ALL_WORDS) -> list[list[Any]]:
    """What the job writes for ``counts``: most frequent first, ties by word, zeros left out."""
    return [[w, c] for w, c in sorted(((w, c) for w, c in counts.items() if c > 0),
                                      key=lambda kv: (-kv[1], kv[0]))[:top]]


def words_of(lines: list[str]) -> collections.Counter[str]:
    return collections.Counter(w for line in lines for w in line.split())


def results(out_dir: Path) -> dict[int, dict[str, Any]]:
    """The job's per-batch files, by batch time in ms."""
    return {int(p.stem): json.loads(p.read_text(encoding="utf-8")) for p in sorted(out_dir.glob("*.json"))}


# ---------------------------------------------------------------------------- socket job
class SampleLoop:
    """Word counts of the first n lines of sample.txt sent in a loop, as the demo feed does."""

    def __init__(self) -> None:
        self.cycle = words_of(SAMPLE)
        self.per_cycle = sum(self.cycle.values())
        self.prefix_words = [sum(len(line.split()) for line in SAMPLE[:r]) for r in range(len(SAMPLE))]

    def lines_for(self, total_words: int) -> int:
        """The number of lines n whose words add up to ``total_words`` (every line has words,
        so there is at most one); fails when no prefix of the loop has that many words."""
        cycles, rest = divmod(total_words, self.per_cycle)
        assert rest in self.prefix_words, f"{total_words} words is no whole number of lines of the loop"
        return cycles * len(SAMPLE) + self.prefix_words.index(rest)

    def counts(self, n: int) -> collections.Counter[str]:
        cycles, rest = divmod(n, len(SAMPLE))
        out: collections.Counter[str] = collections.Counter()
        for _ in range(cycles):
            out.update(self.cycle)
        out.update(words_of(SAMPLE[:rest]))
        return out


def test_socket_job_with_the_demo_feed_counts_the_sample_text_exactly(tmp_path: Path) -> None:
    out = tmp_path / "out"
    batch_ms, window_ms = 500, 1500
    result = subprocess.run(
        [sys.executable, str(JOBS / "wordcount_socket.py"), "--stop-after", "4", "--http", "off",
         "--batch-seconds", str(batch_ms / 1000), "--checkpoint", str(tmp_path / "checkpoints"),
         "--demo", "--output", str(out), "--window", str(window_ms / 1000), "--top", str(ALL_WORDS)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-6000:]
    assert "demo feed: 200.0 lines/s of data/sample.txt" in result.stderr
    assert "stopping (stop_after 4 s elapsed): graceful drain" in result.stderr
    assert result.stderr.rstrip().endswith("stopped; exit code 0"), result.stderr[-4000:]

    loop, files = SampleLoop(), results(out)
    times = sorted(files)
    assert len(times) >= 4, f"only {len(times)} batch files: {result.stderr[-4000:]}"
    assert times == list(range(times[0], times[-1] + batch_ms, batch_ms)), "a batch wrote no file"
    lines_at: dict[int, int] = {}
    for t in times:
        totals = dict(files[t]["totals_top"])
        n = lines_at[t] = loop.lines_for(sum(totals.values()))
        assert files[t]["totals_top"] == ordered(loop.counts(n)), f"totals of batch {t}"
        before = lines_at.get(t - window_ms, 0)    # no file that early: the window holds it all
        assert t - window_ms < times[0] or t - window_ms in lines_at
        window = loop.counts(n)
        window.subtract(loop.counts(before))
        assert files[t]["window_top"] == ordered(window), f"window of batch {t} (lines {before}..{n})"
    assert sorted(lines_at.values()) == [lines_at[t] for t in times]      # never backwards

    # a few hundred lines read: the text's most frequent words lead the totals, in its order
    final = lines_at[times[-1]]
    assert final >= 3 * len(SAMPLE), f"only {final} lines read in 4 s at 200 lines/s"
    leaders = [w for w, _ in ordered(loop.cycle, 3)]
    assert [w for w, _ in files[times[-1]]["totals_top"][:3]] == leaders == ["the", "a", "and"]


# ---------------------------------------------------------------------------- files job
class Incoming:
    """Files written aside and moved into the watched directory, stamped inside one batch."""

    def __init__(self, root: Path) -> None:
        self.directory = root / "incoming"
        self.staging = root / "staging"
        self.directory.mkdir()
        self.staging.mkdir()
        self.count = 0

    def add(self, text: str, batch_ms: int) -> None:
        self.count += 1
        staged = self.staging / f"part-{self.count:03d}.txt"
        staged.write_text(text, encoding="utf-8")
        os.utime(staged, ns=((batch_ms - 500) * 1_000_000,) * 2)
        os.replace(staged, self.directory / staged.name)        # appears whole


@pytest.fixture
def ctx() -> Iterator[Context]:
    context = Context("local[2]", "wordcount-files-test")      # the job's MASTER: real workers
    try:
        yield context
    finally:
        context.stop()


def test_files_job_gives_exact_totals_and_windows_across_a_restart(ctx: Context, tmp_path: Path) -> None:
    job: JobModule = load_job(JOBS / "wordcount_files.py")
    incoming, out, checkpoint = Incoming(tmp_path), tmp_path / "out", str(tmp_path / "checkpoints")
    args = job.parse_args(["--directory", str(incoming.directory), "--output", str(out),
                           "--window", "3", "--top", str(ALL_WORDS)])
    # one list of file contents per batch (one batch per second)
    first = [[SAMPLE[0]], [SAMPLE[1], SAMPLE[2] + "\n" + SAMPLE[3]], [], ["a a a a a a\nthe"]]
    second = [[SAMPLE[4]], [], ["window window\n"], [], []]

    def setup() -> StreamingContext:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.checkpoint(checkpoint)
        job.build(ssc, args)
        return ssc

    fed: list[collections.Counter[str]] = []

    def run(start_ms: int, batches: list[list[str]]) -> None:
        ssc = StreamingContext.getOrCreate(checkpoint, setup)
        ssc._clock.set_time(start_ms)
        ssc.start()
        try:
            for i, texts in enumerate(batches, 1):
                batch_ms = start_ms + i * 1000
                for text in texts:
                    incoming.add(text, batch_ms)
                assert advance_batch(ssc) == batch_ms
                fed.append(words_of(texts))
                written = results(out)[batch_ms]
                totals = sum(fed, collections.Counter())
                window = sum(fed[-3:], collections.Counter())
                assert written["totals_top"] == ordered(totals), f"totals of batch {batch_ms}"
                assert written["window_top"] == ordered(window), f"window of batch {batch_ms}"
        finally:
            ssc.stop(stopSparkContext=False, stopGraceFully=True)

    run(0, first)
    assert sorted(os.listdir(incoming.directory)) == [f"part-{i:03d}.txt" for i in range(1, 5)]
    # the same checkpoint, the files of the first run still in the directory: none is read
    # again, the totals go on, and the window spans the restart
    run(len(first) * 1000, second)
    assert sorted(results(out)) == [i * 1000 for i in range(1, len(first) + len(second) + 1)]
    assert results(out)[9000]["window_top"] == [["window", 2]]
