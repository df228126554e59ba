"""Which Kafka offsets a batch consumed: the hook through which a transactional sink commits
a batch's input offsets in the same transaction as its output.

An input stream that reads Kafka implements one method::

    def kafka_batch_offsets(self, time_ms: int) -> BatchOffsets | None

returning the consumer group and, per ``(topic, partition)`` the batch read, the offset
*after* its last record (Kafka's "next offset to read", what a consumer commits), or None
when it has nothing to commit for that batch (no Kafka records, or offsets it cannot vouch
for). It is asked after the batch's jobs were generated, while the batch's blocks or offset
ranges are still known, and must give the same answer when the batch is re-run after
recovery. The receiver-based Kafka stream answers from its blocks' ``kafka_offsets`` (only
with the write-ahead log on: without it the blocks die with the driver, so committing their
offsets before the state is checkpointed would lose them); the direct stream answers from its
offset ranges (``until_offset`` per partition).

:func:`kafka_offsets_of_batch` walks from a stream up to its inputs and gathers the answers.

>>> from dstream import Context, StreamingContext
>>> with Context("local") as ctx:
...     ssc = StreamingContext(ctx, 1)
...     kafka_offsets_of_batch(ssc.queueStream([]).map(str), 1000)
[]
>>> BatchOffsets("g", {("t", 0): 5}).merged(BatchOffsets("g", {("t", 0): 7, ("t", 1): 2}))
BatchOffsets(group_id='g', offsets={('t', 0): 7, ('t', 1): 2})
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..stream_node import StreamNode

__all__ = ["BatchOffsets", "kafka_offsets_of_batch"]


@dataclass
class BatchOffsets:
    """A batch's Kafka input: ``offsets[(topic, partition)]`` is the next offset to read."""

    group_id: str
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)

    def merged(self, other: BatchOffsets) -> BatchOffsets:
        """Both, the higher offset per partition (same group)."""
        if other.group_id != self.group_id:
            raise ValueError(f"cannot merge offsets of group {other.group_id!r} into "
                             f"{self.group_id!r}")
        offsets = dict(self.offsets)
        for key, offset in other.offsets.items():
            offsets[key] = max(offset, offsets.get(key, 0))
        return BatchOffsets(self.group_id, offsets)


def kafka_offsets_of_batch(stream: StreamNode, time_ms: int) -> list[BatchOffsets]:
    """The Kafka offsets the batch of ``time_ms`` consumed, one entry per consumer group,
    from every input stream ``stream`` derives from that implements ``kafka_batch_offsets``."""
    by_group: dict[str, BatchOffsets] = {}
    seen: set[int] = set()
    pending = [stream]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        pending.extend(current.parents)
        answer = getattr(current, "kafka_batch_offsets", None)
        found = answer(time_ms) if answer is not None else None
        if found is not None and found.offsets:
            known = by_group.get(found.group_id)
            by_group[found.group_id] = found if known is None else known.merged(found)
    return [by_group[g] for g in sorted(by_group)]
