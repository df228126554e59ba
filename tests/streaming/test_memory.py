"""A long run (2500 batches on the manual clock) of windows and state: what the engine keeps
(remembered RDDs, cached blocks, shuffle outputs, checkpoint files, Python memory) stays bounded."""

from __future__ import annotations

import gc
import operator
import os
import tracemalloc
from typing import Any

from dstream import Context, StreamingContext
from dstream.conf import Conf
from dstream.streaming import State, StateSpec
from dstream.streaming.testing import advance_batch

WARMUP = 500
BATCHES = 2500
SAMPLE_EVERY = 250


def count_files(directory: str) -> int:
    return sum(len(files) for _, _, files in os.walk(directory))


def count_or_expire(key: str, value: int | None, state: State) -> None:
    if not state.isTimingOut():
        state.update((state.getOption() or 0) + value)


def define(ssc: StreamingContext, last: dict[str, Any]) -> None:
    """Windows (with and without the inverse, sliding two batches) and state over a small
    stream of words: three records a batch, one of them a key that comes and goes."""
    words = ssc.queueStream([], default=ssc.sparkContext.parallelize(["a", "b", "a"], 2))
    pairs = words.transform(lambda t, rdd: rdd if int(t.timestamp()) % 7 else rdd.union(
        rdd.ctx.parallelize(["rare"], 1))).map(lambda w: (w, 1))
    outputs = {
        "window": pairs.window(6, 2).count(),
        "inverse": pairs.reduceByKeyAndWindow(operator.add, operator.sub, 10, 2,
                                              filterFunc=lambda kv: kv[1] > 0),
        "recomputed": pairs.reduceByKeyAndWindow(operator.add, None, 4, 2),
        "state": pairs.updateStateByKey(lambda new, old: sum(new) + (old or 0)),
        "mapWithState": pairs.mapWithState(StateSpec.function(count_or_expire).timeout(3)).stateSnapshots(),
    }
    for name, stream in outputs.items():
        stream.foreachRDD(lambda _time, rdd, name=name: last.__setitem__(name, sorted(rdd.collect())))


def test_long_run_keeps_bounded_resources(tmp_path: Any) -> None:
    conf = Conf().set("dstream.streaming.ui.retainedBatches", "50")
    checkpoint_dir = os.fspath(tmp_path / "checkpoints")
    samples: list[dict[str, int]] = []
    last: dict[str, Any] = {}
    with Context("local", "memory", conf=conf) as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.checkpoint(checkpoint_dir)
        define(ssc, last)
        ssc.start()
        tracemalloc.start()
        try:
            for i in range(1, BATCHES + 1):
                advance_batch(ssc)
                if i % SAMPLE_EVERY == 0:
                    gc.collect()
                    samples.append({
                        "batch": i,
                        "generated": max(len(s.generated) for s in ssc._graph.all_streams()),
                        "all_generated": sum(len(s.generated) for s in ssc._graph.all_streams()),
                        "blocks": len(ctx._block_manager.block_ids()),
                        "shuffles": ctx._scheduler.shuffle_count(),
                        "checkpoint_files": count_files(checkpoint_dir),
                        "memory": tracemalloc.get_traced_memory()[0],
                    })
            ssc.awaitTerminationOrTimeout(0)
        finally:
            tracemalloc.stop()
            ssc.stop(stopSparkContext=False)

    # the results are right after 2500 batches ("rare" arrives at multiples of 7 s: 2492, 2499)
    assert last["window"] == [6 * 3 + 1]
    assert last["inverse"] == [("a", 20), ("b", 10), ("rare", 2)]
    assert last["recomputed"] == [("a", 8), ("b", 4), ("rare", 1)]
    assert last["state"] == [("a", 2 * BATCHES), ("b", BATCHES), ("rare", BATCHES // 7)]
    # "rare" times out between arrivals (7 s apart, timeout 3 s), so it counts from 1 again
    assert last["mapWithState"] == [("a", 2 * BATCHES), ("b", BATCHES), ("rare", 1)]

    steady = [s for s in samples if s["batch"] > WARMUP]
    for key, bound in [("generated", 40), ("all_generated", 300), ("blocks", 200), ("shuffles", 150),
                       ("checkpoint_files", 100)]:
        values = [s[key] for s in steady]
        assert max(values) <= bound, (key, values)
        assert values[-1] <= max(values[:2]) + 5, (key, values)   # flat, not creeping up
    growth = steady[-1]["memory"] - steady[0]["memory"]
    assert growth < 128 * 1024, [s["memory"] for s in samples]
