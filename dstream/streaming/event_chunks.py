"""Records with their event times, a chunk at a time: ``(event ms of each record, records)``.

An event-time stream is read in chunks of ``CHUNK`` records: the timestamps are converted at C
speed (``map``), and the narrow operators that keep event time (``map``, ``filter``, ...) run
as *steps*, each taking the chunks of the step before. The windowed operators read the chunks
in their map task straight from the records before ``withEventTime`` (no ``(ms, record)``
pair per record is made, then taken apart again).

>>> chunks = stamp_chunks([("a", 1.5), ("b", 2), ("c", 3)], lambda r: r[1], "s")
>>> list(filter_step(lambda r: r[0] != "b")(map_step(lambda r: r[0])(chunks)))
[([1500, 3000], ['a', 'c'])]
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from itertools import chain, compress, groupby, islice, repeat
from typing import Any, Callable, Iterable, Iterator

__all__ = ["CHUNK", "Chunk", "ChunkStep", "stamp_chunks", "unzip_chunks", "pairs_of", "records_of",
           "then", "map_step", "filter_step", "flat_map_step", "map_values_step",
           "flat_map_values_step"]

#: Records per chunk: enough for C-speed passes (``map``, ``Counter``) to pay off, few enough
#: that a chunk is freed before the garbage collector promotes it to an old generation (a whole
#: batch held at once makes the collector walk it again and again; 512 measured best).
CHUNK = 512

Chunk = tuple[list[int], list[Any]]       # (event ms of each record, the records)
ChunkStep = Callable[[Iterator[Chunk]], Iterator[Chunk]]

_time_of = operator.itemgetter(0)          # of an (event ms, record) pair
_record_of = operator.itemgetter(1)


def stamp_chunks(records: Iterable[Any], timestampFunc: Callable[[Any], Any], sid: str
                 ) -> Iterator[Chunk]:
    """``records`` in chunks with the event time ``timestampFunc`` gives each, in ms.

    >>> [(ms, len(rs)) for ms, rs in stamp_chunks([("a", 1.5), ("b", 2)], lambda r: r[1], "s")]
    [([1500, 2000], 2)]
    """
    it = iter(records)
    while chunk := list(islice(it, CHUNK)):
        times = list(map(timestampFunc, chunk))
        yield _times_ms(sid, times, chunk), chunk


def _times_ms(sid: str, times: list[Any], records: list[Any]) -> list[int]:
    kinds = set(map(type, times))
    if kinds <= {float, int}:                               # the common case, at C speed
        try:
            if len(kinds) == 1 and len(set(times[:_PROBE])) * 2 <= _PROBE:
                return _runs_ms(times)
            return list(map(round, map(operator.mul, times, repeat(1000))))
        except (OverflowError, ValueError):                  # inf or nan: say which
            pass
    return [_checked_ms(sid, x, r) for x, r in zip(times, records)]


#: leading times of a chunk looked at: when half of them repeat (records stamped one by one
#: after a ``flatMap`` that gave each word its line's time), the chunk is converted a run of
#: equal times at a time (all of one type, so that equal times convert alike)
_PROBE = 16


def _runs_ms(times: list[float] | list[int]) -> list[int]:
    """Epoch seconds in ms, each run of equal times converted once.

    >>> _runs_ms([1.5, 1.5, 2.0, 1.5])
    [1500, 1500, 2000, 1500]
    """
    firsts, lengths = zip(*[(t, len(list(run))) for t, run in groupby(times)])
    ms = map(round, map(operator.mul, firsts, repeat(1000)))
    return list(chain.from_iterable(map(repeat, ms, lengths)))


def event_ms(value: Any) -> int:
    """An event time (a ``datetime``, naive meaning local time, or epoch seconds) in ms.

    >>> event_ms(1.25), event_ms(dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc))
    (1250, 0)
    """
    kind = type(value)
    if kind is float or kind is int:
        if kind is float and not math.isfinite(value):
            raise ValueError(f"an event time must be finite, got {value!r}")
        ms: int = round(value * 1000)                      # value is an int or a float
        return ms
    if isinstance(value, dt.datetime):
        return round(value.timestamp() * 1000)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return event_ms(float(value))
    raise TypeError(f"an event time must be a datetime or epoch seconds (int or float), "
                    f"got {kind.__name__} {value!r:.80}")


def _checked_ms(sid: str, value: Any, record: Any) -> int:
    try:
        return event_ms(value)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{sid}.withEventTime: the timestamp function gave a bad event time for "
                      f"record {record!r:.120}: {e}") from e


def unzip_chunks(stamped: Iterable[tuple[int, Any]]) -> Iterator[Chunk]:
    """``(event ms, record)`` pairs in chunks.

    >>> list(unzip_chunks([(1000, "a"), (2000, "b")]))
    [([1000, 2000], ['a', 'b'])]
    """
    it = iter(stamped)
    while chunk := list(islice(it, CHUNK)):
        yield list(map(_time_of, chunk)), list(map(_record_of, chunk))


def pairs_of(chunks: Iterable[Chunk]) -> Iterator[tuple[int, Any]]:
    """The chunks' records as ``(event ms, record)`` pairs.

    >>> list(pairs_of([([1000, 2000], ["a", "b"])]))
    [(1000, 'a'), (2000, 'b')]
    """
    return chain.from_iterable(zip(times, records) for times, records in chunks)


def records_of(chunks: Iterable[Chunk]) -> Iterator[Any]:
    """The chunks' records alone.

    >>> list(records_of([([1000, 2000], ["a", "b"])]))
    ['a', 'b']
    """
    return chain.from_iterable(records for _times, records in chunks)


def then(first: Callable[[Iterator[Any]], Iterator[Chunk]], step: ChunkStep
         ) -> Callable[[Iterator[Any]], Iterator[Chunk]]:
    """``first``'s chunks through ``step``.

    >>> list(then(unzip_chunks, map_step(str.upper))(iter([(1, "a")])))
    [([1], ['A'])]
    """
    return lambda records: step(first(records))


# ---------------------------------------------------------------------- steps
def map_step(f: Callable[[Any], Any]) -> ChunkStep:
    """Each record to ``f(record)``, its event time kept.

    >>> list(map_step(len)(iter([([5], ["abc"])])))
    [([5], [3])]
    """
    return lambda chunks: ((times, list(map(f, records))) for times, records in chunks)


def filter_step(f: Callable[[Any], Any]) -> ChunkStep:
    """The records ``f`` holds true, with their event times; no empty chunk.

    >>> list(filter_step(bool)(iter([([1, 2], [0, 7]), ([3], [0])])))
    [([2], [7])]
    """
    def step(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        for times, records in chunks:
            keep = list(map(f, records))
            if any(keep):
                yield list(compress(times, keep)), list(compress(records, keep))
    return step


def flat_map_step(f: Callable[[Any], Iterable[Any]]) -> ChunkStep:
    """Each record to the records of ``f(record)``, each with the record's event time, in
    chunks of at most ``CHUNK`` records (lines to words would make them ten times longer).

    >>> list(flat_map_step(str.split)(iter([([1, 2], ["a b", "c"])])))
    [([1, 1, 2], ['a', 'b', 'c'])]
    """
    def step(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        for times, records in chunks:
            outs = [x if type(x) is list else list(x) for x in map(f, records)]
            if any(outs):
                out_times = list(chain.from_iterable(map(repeat, times, map(len, outs))))
                out = list(chain.from_iterable(outs))
                for i in range(0, len(out), CHUNK):
                    yield out_times[i:i + CHUNK], out[i:i + CHUNK]
    return step


def map_values_step(f: Callable[[Any], Any]) -> ChunkStep:
    """Each ``(key, value)`` to ``(key, f(value))``.

    >>> list(map_values_step(abs)(iter([([1], [("a", -2)])])))
    [([1], [('a', 2)])]
    """
    return map_step(lambda kv: (kv[0], f(kv[1])))


def flat_map_values_step(f: Callable[[Any], Iterable[Any]]) -> ChunkStep:
    """Each ``(key, value)`` to ``(key, x)`` for each ``x`` of ``f(value)``.

    >>> list(flat_map_values_step(range)(iter([([1], [("a", 2)])])))
    [([1, 1], [('a', 0), ('a', 1)])]
    """
    return flat_map_step(lambda kv: [(kv[0], x) for x in f(kv[1])])
