"""Property test of recovery's bookkeeping: random runs of received blocks, batches that
complete or are still pending, checkpoints captured and written (a slow writer keeps only the
newest), log segments rolling and being cleaned, and crashes at any point, recovering from the
newest checkpoint or an older retained one (the newer ones lost). After the last recovery the
job drains: every received block belongs to exactly one completed batch.

The parts are the engine's own: ``ReceivedBlockTracker``, ``WriteAheadLog`` on a disk store,
metadata generations (``save_generation``, JSON encoded), ``ledger_of``, ``LogCleaner`` and
``ReplayPlan``. Only the batches' outputs are modelled: a batch's result is the set of blocks
it was given, replaced when recovery runs that batch time again (outputs are keyed by time).
"""

from __future__ import annotations

import tempfile
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dstream.checkpoint import DiskStore, WriteAheadLog, list_generations, save_generation
from dstream.checkpoint.retention import generation_name
from dstream.streaming.received_blocks import ReceivedBlock, ReceivedBlockTracker
from dstream.streaming.log_ledger import LogCleaner, ReplayPlan, ledger_of
from dstream.streaming.recovery_format import decode_metadata, encode_metadata

BATCH_MS = 1000
RETAINED = 3

def _action(draw_kind: int, arg: int) -> tuple[str, int]:
    # weights (of 20): receive 6, batch 5, complete 5, write 3, crash 1: runs get long enough
    # to forget batches, settle blocks and clean segments between crashes
    kind = ("receive",) * 6 + ("batch",) * 5 + ("complete",) * 5 + ("write",) * 3 + ("crash",)
    name = kind[draw_kind]
    return name, (arg % 3 + 1 if name == "receive" else arg % RETAINED if name == "crash" else 0)


actions = st.lists(st.builds(_action, st.integers(0, 19), st.integers(0, 2)), min_size=10, max_size=300)


class Run:
    """One process of the job: tracker, log, cleaner, pending batches, queued capture."""

    def __init__(self, store: DiskStore, roll_s: float, start_ms: int) -> None:
        self.wal = WriteAheadLog(store, "wal/receivers", roll_interval_s=roll_s)
        self.tracker = ReceivedBlockTracker()
        self.cleaner = LogCleaner(self.wal, RETAINED)
        self.next_batch_ms = start_ms
        self.pending: list[int] = []
        self.queued: dict[str, Any] | None = None


class Model:
    def __init__(self, roll_s: float, remember: int) -> None:
        self.store = DiskStore(tempfile.mkdtemp(prefix="replay-property-"))
        self.remember_ms = remember * BATCH_MS
        self.roll_s = roll_s
        self.seq = 0
        self.received: set[str] = set()
        self.outputs: dict[int, set[str]] = {}      # batch time -> blocks its output counted
        self.run = Run(self.store, roll_s, BATCH_MS)
        self.wall_ms = 0          # the log's clock: wall time, which never goes back

    def now_ms(self) -> int:
        return self.wall_ms

    def receive(self, n: int) -> None:
        for _ in range(n):
            block_id = f"input-0-{self.seq}"
            self.seq += 1
            pointer = self.run.wal.write(block_id.encode(), self.now_ms())
            self.run.tracker.add(ReceivedBlock(0, block_id, 1, {}, pointer))
            self.received.add(block_id)

    def batch(self) -> None:
        t = self.run.next_batch_ms
        self.run.tracker.allocate(t)
        self.run.pending.append(t)
        self.run.next_batch_ms += BATCH_MS
        self.wall_ms += BATCH_MS

    def complete(self) -> None:
        if not self.run.pending:
            return
        t = self.run.pending.pop(0)
        self.outputs[t] = {b.block_id for b in self.run.tracker.blocks_of(t, 0)}
        # after the batch: capture the checkpoint, then forget batches no window needs
        self.run.queued = {"time_ms": t, **ledger_of(self.run.tracker, self.run.cleaner.take_cleaned())}
        self.run.tracker.forget_batches(t - self.remember_ms)

    def write(self) -> None:
        meta, self.run.queued = self.run.queued, None
        if meta is None:
            return
        save_generation(self.store, "metadata", meta["time_ms"], encode_metadata(meta), retained=RETAINED)
        self.run.cleaner.saved(meta)

    def crash(self, older: int) -> None:
        """The process dies; the newest ``older`` generations are lost (corrupt) as well."""
        self.run.wal.close()
        generations = list_generations(self.store, "metadata")
        for seq in generations[len(generations) - older:] if older < len(generations) else []:
            self.store.delete(generation_name("metadata", seq))
        generations = list_generations(self.store, "metadata")
        if not generations:
            # no checkpoint: a fresh start that replays nothing (as getOrCreate without one)
            self.outputs.clear()
            self.received = set()
            for segment in list(WriteAheadLog(self.store, "wal/receivers").segments()):
                self.store.delete(segment)
            self.run = Run(self.store, self.roll_s, BATCH_MS)
            return
        meta = decode_metadata(self.store.load(generation_name("metadata", generations[-1])))
        checkpoint_ms = meta["time_ms"]
        for t in [t for t in self.outputs if t > checkpoint_ms]:
            del self.outputs[t]                       # batches after the checkpoint run again
        run = self.run = Run(self.store, self.roll_s, checkpoint_ms + BATCH_MS)
        plan = ReplayPlan(meta)
        for t, per in plan.batches.items():
            run.tracker.restore_allocation(t, per)
        for pointer, record in run.wal.read_with_pointers():
            block_id = record.decode()
            fate = plan.fate(block_id)
            block = ReceivedBlock(0, block_id, 1, {}, pointer)
            if fate == "settled":
                run.tracker.restore_settled(block)
            elif fate == "batch":
                plan.known[block_id].wal_pointer = pointer
            elif fate == "new":
                run.tracker.add(block)
        lost = [b for b in plan.known if b in self.received and not self._logged(b, run)]
        assert not lost, f"blocks of remembered batches missing from the log: {lost}"

    def _logged(self, block_id: str, run: Run) -> bool:
        return any(b.block_id == block_id and b.wal_pointer is not None
                   for per in run.tracker.allocated_batches().values() for bs in per.values() for b in bs)

    def drain(self) -> None:
        """Run until every received block went through a completed batch."""
        while self.run.pending:
            self.complete()
        restored = max(self.run.tracker.allocated_batches(), default=0)
        while self.run.tracker.has_unallocated() or self.run.next_batch_ms <= restored:
            self.batch()
            self.complete()


_CYCLE = [("receive", 1), ("batch", 0), ("complete", 0), ("write", 0)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# issue #17: blocks of forgotten batches still in a segment were replayed as new data
@example(steps=_CYCLE * 8 + [("crash", 0)], roll_s=7, remember=2)
# recovering from the oldest retained generation (the newer ones corrupt) finds every block
# its batches need: a segment goes only when the oldest retained generation settled it all
@example(steps=_CYCLE * 4 + [("crash", 2)], roll_s=0.5, remember=1)
@given(steps=actions, roll_s=st.sampled_from([0.5, 1, 2.5, 7]), remember=st.integers(1, 6))
def test_replay_gives_every_record_to_exactly_one_completed_batch(steps: list[tuple[str, int]],
                                                                   roll_s: float, remember: int) -> None:
    model = Model(roll_s, remember)
    try:
        for action, arg in steps:
            if action == "receive":
                model.receive(arg)
            elif action == "batch":
                model.batch()
            elif action == "complete":
                model.complete()
            elif action == "write":
                model.write()
            else:
                model.crash(arg)
        model.drain()
        counted: dict[str, list[int]] = {}
        for t, blocks in model.outputs.items():
            for block_id in blocks:
                counted.setdefault(block_id, []).append(t)
        doubled = {b: ts for b, ts in counted.items() if len(ts) > 1}
        assert not doubled, f"blocks counted by more than one batch: {doubled}"
        assert set(counted) == model.received, (
            f"lost: {sorted(model.received - set(counted))}, unknown: {sorted(set(counted) - model.received)}; "
            f"steps {steps}")
    finally:
        model.store.close()


def test_a_segment_stays_while_any_retained_generation_needs_it(tmp_path: Any) -> None:
    """Generations saved out of order (concurrent batches) keep the store's retained set from
    being the last few saved: the cleaner follows the store's rule, and a segment goes only
    when every generation the store keeps has all its records settled."""
    store = DiskStore(str(tmp_path / "ckpt"))
    wal = WriteAheadLog(store, "wal/receivers", roll_interval_s=1)
    old = wal.write(b"input-0-0", 0).segment
    wal.write(b"input-0-1", 5000)                     # writes go to a newer segment now
    cleaner = LogCleaner(wal, retained=3)
    settled = {"settled": {old: [[0, 0, 0]]}}
    for seq, meta in ((5000, settled), (9000, settled), (6000, {"settled": {}}), (7000, settled)):
        save_generation(store, "metadata", seq, encode_metadata({"time_ms": seq, **meta}), retained=3)
        cleaner.saved({"time_ms": seq, **meta})
    assert list_generations(store, "metadata") == [6000, 7000, 9000]
    assert old in wal.segments()                      # generation 6000 does not have it settled
    for seq in (10_000, 11_000):
        save_generation(store, "metadata", seq, encode_metadata({"time_ms": seq, **settled}), retained=3)
        cleaner.saved({"time_ms": seq, **settled})
    assert old not in wal.segments() and cleaner.take_cleaned() == {old}
    wal.close()
    store.close()
