"""Batch word count: ``textFile -> flatMap(split) -> map((w, 1)) -> reduceByKey(add)``.

Prints words/s for ``local[1]``, ``local[2]`` and the raw-Python floor
(``collections.Counter`` over ``str.split`` on one core), all measured in one run:

    python -m benchmarks.wordcount_batch --mb 300
"""

from __future__ import annotations

import argparse
import collections
import itertools
import os
import tempfile
import time
from operator import add

from dstream import Context

from .textgen import write_text_file


def floor_words_per_s(path: str) -> tuple[float, int]:
    """Counter over str.split of every line, one core, reading included."""
    start = time.perf_counter()
    counts: collections.Counter[str] = collections.Counter()
    with open(path, encoding="utf-8") as f:
        while True:
            lines = f.readlines(64 << 20)
            if not lines:
                break
            counts.update(itertools.chain.from_iterable(map(str.split, lines)))
    elapsed = time.perf_counter() - start
    total = sum(counts.values())
    return total / elapsed, total


def engine_words_per_s(path: str, master: str, expected_words: int) -> float:
    with Context(master, "wordcount-batch") as ctx:
        start = time.perf_counter()
        counts = (ctx.textFile(path, ctx.defaultParallelism * 4).flatMap(str.split)
                  .map(lambda w: (w, 1)).reduceByKey(add).collect())
        elapsed = time.perf_counter() - start
    total = sum(c for _, c in counts)
    if total != expected_words:
        raise SystemExit(f"{master}: counted {total} words, expected {expected_words}")
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=300.0, help="size of the generated text")
    parser.add_argument("--masters", default="local[1],local[2]")
    parser.add_argument("--file", help="use this text file instead of generating one")
    args = parser.parse_args()
    path = args.file
    tmp = None
    if path is None:
        tmp = tempfile.NamedTemporaryFile(suffix=".txt", delete=False)
        tmp.close()
        path = tmp.name
        write_text_file(path, args.mb)
    try:
        floor, words = floor_words_per_s(path)
        print(f"text: {os.path.getsize(path) / 1e6:.0f} MB, {words:,} words")
        print(f"{'raw Python floor (1 core)':28s} {floor / 1e6:6.2f} M words/s")
        results = {}
        for master in args.masters.split(","):
            results[master] = engine_words_per_s(path, master, words)
            print(f"{master:28s} {results[master] / 1e6:6.2f} M words/s "
                  f"({results[master] / floor:.0%} of floor)")
        if "local[1]" in results and "local[2]" in results:
            print(f"local[2] / local[1] = {results['local[2]'] / results['local[1]']:.2f}x")
    finally:
        if tmp is not None:
            os.unlink(path)


if __name__ == "__main__":
    main()
