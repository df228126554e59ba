"""The DStream graph: input and output streams, stable ids, and per-batch job generation.

Ids are readable and deterministic: an input is ``<kind>-<n>``, a derived stream is its
parent's id plus the operator (``socketTextStream-0.flatMap.map.reduceByKeyAndWindow``), a
stream over several parents names them all; ``DStream.setName("...")`` sets one by hand.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, cast

from ..errors import ContextStateError

if TYPE_CHECKING:
    from .dstream import DStream, ForEachDStream
    from .inputs.base import InputDStream

__all__ = ["DStreamGraph"]

log = logging.getLogger(__name__)


class DStreamGraph:
    def __init__(self) -> None:
        self.inputs: list[InputDStream[Any]] = []
        self.outputs: list[ForEachDStream[Any]] = []
        self.streams: dict[str, DStream[Any]] = {}
        self.remember_ms: int | None = None
        self.started = False
        self.stopped = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ definition
    def check_can_define(self, op: str) -> None:
        if self.started or self.stopped:
            when = "stopping" if self.stopped else "starting"
            raise ContextStateError(
                f"cannot add {op}: adding new inputs, transformations, and output operations "
                f"after {when} a context is not supported")

    def register(self, stream: DStream[Any]) -> str:
        """Give ``stream`` its id (and number it if it is an input)."""
        with self._lock:
            if not stream.parents:
                base = f"{stream.op}-{len(self.inputs)}"
                # only an InputDStream has no parents
                self.inputs.append(cast("InputDStream[Any]", stream))
            elif len(stream.parents) == 1:   # a folded chain of operators names them all
                base = f"{stream.parents[0].id}.{getattr(stream, 'chain', stream.op)}"
            else:
                base = f"{stream.op}({','.join(p.id for p in stream.parents)})"
            sid, n = base, 1
            while sid in self.streams:
                n += 1
                sid = f"{base}#{n}"
            self.streams[sid] = stream
            return sid

    def rename(self, stream: DStream[Any], name: str) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"DStream.setName() needs a non-empty string, got {name!r}")
        with self._lock:
            other = self.streams.get(name)
            if other is not None and other is not stream:
                raise ValueError(f"the id {name!r} is already used by {other!r}: ids must be unique")
            self.streams.pop(stream.id, None)
            self.streams[name] = stream
            stream.id = name

    def add_output(self, stream: ForEachDStream[Any]) -> None:
        with self._lock:
            stream.output_id = len(self.outputs)
            self.outputs.append(stream)

    def input_index(self, stream: DStream[Any]) -> int:
        return next(i for i, s in enumerate(self.inputs) if s is stream)

    # ------------------------------------------------------------------ running
    def start(self, zero_time_ms: int) -> None:
        if not self.outputs:
            raise ValueError("No output operations registered, so nothing to execute: "
                             "add foreachRDD, pprint or saveAsTextFiles before start()")
        for out in self.outputs:     # before initialize(), so that a failed start can be retried
            out._validate_at_start()
        for out in self.outputs:
            out._initialize(zero_time_ms)
        for out in self.outputs:
            out._remember(self.remember_ms)
        self.started = True

    def remember(self, duration_ms: int) -> None:
        self.remember_ms = duration_ms

    def generate_jobs(self, time_ms: int
                      ) -> list[tuple[ForEachDStream[Any], Callable[[], None] | BaseException]]:
        """For each output in registration order: its job, or the error that making it raised."""
        jobs: list[tuple[ForEachDStream[Any], Callable[[], None] | BaseException]] = []
        for out in self.outputs:
            try:
                job = out._generate_job(time_ms)
            except Exception as e:   # reported as this output operation's failure
                jobs.append((out, e))
                continue
            if job is not None:
                jobs.append((out, job))
        return jobs

    def clear_metadata(self, time_ms: int) -> None:
        for out in self.outputs:
            out._clear_metadata(time_ms)

    def close_outputs(self) -> None:
        """Close what the output operations hold open (sinks' producers and connections)."""
        for out in self.outputs:
            for close in out.closers:
                try:
                    close()
                except Exception:
                    log.exception("closing output %s (%s) failed", out.id, out.op)

    def all_streams(self) -> list[DStream[Any]]:
        with self._lock:
            return list(self.streams.values())
