"""The Redis sink: a batch's SETs and its "last batch written" marker in one MULTI/EXEC; a
replayed batch is skipped; a writer whose marker moved under it does not write."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from dstream import Context, StreamingContext
from dstream.streaming.sinks import RedisSink
from dstream.streaming.testing import advance_batch


def at(ms: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ms / 1000)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    """A fresh key prefix; its keys (and the markers of sinks named after it) removed after."""
    p = f"sink-{uuid.uuid4().hex[:8]}"
    yield p
    keys = list(client.scan_iter(match=f"*{p}*"))
    if keys:
        client.delete(*keys)


def test_save_to_redis_sets_each_batch_and_its_marker(redis_url: str, client: redis.Redis,
                                                      prefix: str) -> None:
    with Context("local", "redis-sink") as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.queueStream([[("a", 1), ("b", 2)], [("a", 3)]]).saveToRedis(
            redis_url, f"{prefix}:", name=prefix)
        ssc.start()
        times = [advance_batch(ssc) for _ in range(2)]
        ssc.awaitTerminationOrTimeout(0)
        ssc.stop(stopSparkContext=False)
    assert client.mget(f"{prefix}:a", f"{prefix}:b") == [b"3", b"2"]
    assert client.get(f"dstream:sink:{prefix}:last-batch-ms") == str(times[1]).encode()


def test_a_replayed_batch_is_skipped(redis_url: str, client: redis.Redis, prefix: str) -> None:
    with Context("local", "redis-sink") as ctx:
        first = RedisSink(redis_url, prefix, f"{prefix}:")
        try:
            first(at(1000), ctx.parallelize([("total", 10)]))
            first(at(2000), ctx.parallelize([("total", 12)]))
        finally:
            first.close()
        again = RedisSink(redis_url, prefix, f"{prefix}:")
        try:
            # a re-run of batch 1000 would set an older total: the marker keeps it out
            again(at(1000), ctx.parallelize([("total", 10), ("extra", 1)]))
            assert again.skipped == 1
            assert client.mget(f"{prefix}:total", f"{prefix}:extra") == [b"12", None]
            again(at(3000), ctx.parallelize([("total", 15)]))
        finally:
            again.close()
    assert client.get(f"{prefix}:total") == b"15"


def test_a_writer_whose_marker_moves_under_it_writes_nothing(redis_url: str, client: redis.Redis,
                                                             prefix: str) -> None:
    """Another instance commits batch 5000 right after this writer read the marker under
    WATCH: Redis refuses this writer's transaction; reading the marker anew, the writer sees
    that its batch 2000 is older and skips it."""
    marker = f"dstream:sink:{prefix}:last-batch-ms"

    class Racing(RedisSink):
        def _read_marker(self, pipe: Any) -> int | None:
            seen = super()._read_marker(pipe)
            client.set(marker, "5000")     # the other instance, between our WATCH and EXEC
            return seen

    with Context("local", "redis-sink") as ctx:
        sink = Racing(redis_url, prefix, f"{prefix}:")
        try:
            sink(at(2000), ctx.parallelize([("k", "stale")]))
        finally:
            sink.close()
    assert client.get(f"{prefix}:k") is None and (sink.refused, sink.skipped) == (1, 1)
    assert client.get(marker) == b"5000"


def test_redis_sink_rejects_bad_records_and_arguments(redis_url: str, prefix: str) -> None:
    with pytest.raises(ValueError, match="RedisSink needs a redis://"):
        RedisSink("localhost:6379", "x")
    with Context("local", "redis-sink") as ctx:
        sink = RedisSink(redis_url, prefix)
        try:
            with pytest.raises(TypeError, match=r"records must be \(key, value\) pairs, got 'x' "
                                                "in the batch of 1000 ms"):
                sink(at(1000), ctx.parallelize(["x"]))
        finally:
            sink.close()
