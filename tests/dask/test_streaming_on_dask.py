"""A streaming job on a real Dask LocalCluster, stepped with the manual clock."""

from __future__ import annotations

import operator

from dstream import Context, StreamingContext
from dstream.streaming.testing import run_batches


def test_windowed_word_count(ctx: Context) -> None:
    ssc = StreamingContext(ctx, 1, clock="manual")
    inputs = [["a b", "a"], ["b c"], [], ["a a c"], ["c"]]
    counts = (ssc.queueStream([ctx.parallelize(lines, 2) for lines in inputs])
              .flatMap(str.split).map(lambda w: (w, 1))
              .reduceByKeyAndWindow(operator.add, None, 3, 1, numPartitions=2))
    batches = run_batches(ssc, counts, 5)
    expected = []
    for t in range(5):
        window = [w for lines in inputs[max(0, t - 2):t + 1] for line in lines for w in line.split()]
        expected.append(sorted({w: window.count(w) for w in set(window)}.items()))
    assert [sorted(b) for b in batches] == expected


def test_windowed_count_and_state(ctx: Context, tmp_path: object) -> None:
    ssc = StreamingContext(ctx, 1, clock="manual")
    ssc.checkpoint(str(tmp_path))
    stream = ssc.queueStream([[1, 2], [3], [4, 5, 6], [7]])
    counts = stream.window(2, 1).count()
    totals = stream.map(lambda x: (x % 2, x)).updateStateByKey(
        lambda new, old: sum(new) + (old or 0))
    count_batches = []
    counts.foreachRDD(lambda rdd: count_batches.append(rdd.collect()))
    batches = run_batches(ssc, totals, 4)
    assert count_batches == [[2], [3], [4], [4]]
    assert [sorted(b) for b in batches] == [
        [(0, 2), (1, 1)], [(0, 2), (1, 4)], [(0, 12), (1, 9)], [(0, 12), (1, 16)]]
