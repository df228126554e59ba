"""Recovery mode ``restore`` (``dstream.streaming.recovery.mode=restore``): PySpark's own way.

At ``start()`` the DStream graph (every stream and the user functions in it), the conf and the
batch duration are pickled with cloudpickle and saved in the checkpoint store, signed with the
checkpoint key as state is. ``StreamingContext.getOrCreate`` then recovers *without calling the
setup function*: it verifies the signature, unpickles the graph onto a new Context and
StreamingContext, and recovery goes on as in the default mode (blocks, source positions,
state). The job's code cannot change: the saved functions run, not the current ones.

Runtime objects are never pickled: the Context and the StreamingContext are saved as
references and bound to the new ones on load; locks are made afresh.

>>> import tempfile
>>> from dstream import Conf, Context, StreamingContext
>>> from dstream.checkpoint.disk import DiskStore
>>> from dstream.checkpoint.signing import Signer
>>> recovery_mode(Conf()), recovery_mode(Conf().set("dstream.streaming.recovery.mode", "restore"))
('rebuild', 'restore')
>>> where = tempfile.mkdtemp()
>>> store, signer = DiskStore(where), Signer(b"the job's key")
>>> with Context("local", "saved") as ctx:
...     ssc = StreamingContext(ctx, 2)
...     ssc.socketTextStream("127.0.0.1", 9999).map(str.upper).pprint()
...     save_graph(ssc, store, signer, where)
>>> restored = load_graph(store, signer, StreamingContext)  # a new Context: the saved conf, graph and batch
>>> sorted(restored._graph.streams), restored.batch_duration_ms, restored.sparkContext.appName
(['socketTextStream-0', 'socketTextStream-0.map', 'socketTextStream-0.map.pprint'], 2000, 'saved')
>>> restored.sparkContext.stop(); store.close()
"""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import threading
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar

import cloudpickle

from dstream.checkpoint import list_generations, open_store

from ..conf import Conf
from ..context import Context
from .checkpointing import METADATA_KIND, open_checkpoint_store
from .inputs.queue import QueueInputDStream
from .graph import DStreamGraph
from .inputs.receiver_streams import ReceiverInputDStream, ReceiverTracker

if TYPE_CHECKING:
    from dstream.checkpoint import CheckpointStore
    from dstream.checkpoint.signing import Signer

__all__ = ["MODE_KEY", "GRAPH_NAME", "recovery_mode", "save_graph", "load_graph", "GraphRestoreError"]

log = logging.getLogger(__name__)

MODE_KEY = "dstream.streaming.recovery.mode"
GRAPH_NAME = "graph/dstream-graph"
_FORMAT = "dstream-graph"
_VERSION = 1
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
#: settings never written into the checkpoint (the signing key stays in the environment)
_NOT_SAVED = ("dstream.checkpoint.key",)


class RestorableContext(Protocol):
    """A ``StreamingContext`` as this mode sees it: its Context, batch duration and graph (a
    restored graph replaces the one it was made with), its receiver tracker and checkpoint
    location."""

    _graph: DStreamGraph

    @property
    def sparkContext(self) -> Context: ...
    @property
    def batch_duration_ms(self) -> int: ...
    @property
    def _receiver_tracker(self) -> ReceiverTracker: ...
    def checkpoint(self, directory: str) -> None: ...


#: the StreamingContext class a saved graph is restored on
C = TypeVar("C", bound=RestorableContext)


class GraphRestoreError(ValueError):
    """The graph cannot be saved for, or restored in, the ``restore`` recovery mode."""


def recovery_mode(conf: Conf) -> str:
    """``rebuild`` (the default: the setup function runs again) or ``restore``."""
    return str(conf.get(MODE_KEY) or "rebuild").strip().lower()


class _GraphPickler(cloudpickle.CloudPickler):  # type: ignore[misc]  # cloudpickle is untyped
    def __init__(self, file: io.BytesIO, ssc: RestorableContext) -> None:
        super().__init__(file, protocol=5)
        self._ssc = ssc

    def persistent_id(self, obj: Any) -> Any:
        if obj is self._ssc:
            return "ssc"
        if obj is self._ssc.sparkContext:
            return "ctx"
        if isinstance(obj, _LOCK_TYPES):
            return "rlock" if isinstance(obj, _LOCK_TYPES[1]) else "lock"
        return None


#: where a saved graph's classes and functions live now, by where they were when it was saved
_MOVED = {
    **{("dstream.streaming.windowed", name): ("dstream.streaming.dstream", name)
       for name in ("_WindowBase", "WindowedDStream", "ReducedWindowedDStream")},
    **{("dstream.streaming.stateful", name): ("dstream.streaming.dstream", name)
       for name in ("_StatefulDStream", "StateDStream", "_InternalMapWithStateDStream",
                    "MapWithStateDStream")},
    ("dstream.streaming.window_ops", "_concat"): ("dstream.streaming.windowed", "concat"),
    ("dstream.streaming.window_ops", "_drop_prefix"): ("dstream.streaming.windowed", "drop_prefix"),
    **{("dstream.streaming.event_time", name): ("dstream.streaming.dstream", name)
       for name in ("StampedDStream", "EventTimeDStream", "_strip", "_same")},
    **{("dstream.streaming.event_windows", name): ("dstream.streaming.dstream", name)
       for name in ("EventStateDStream", "EventWindowDStream", "_emitted", "_late")},
    # the RDDs a saved function holds: the kinds RDD's own methods build moved into rdd.py
    **{("dstream.rdd_kinds", name): ("dstream.rdd", name)
       for name in ("CartesianRDD", "CoalescedRDD", "PipelinedRDD", "ShuffledRDD", "ZippedRDD",
                    "_CartesianDependency")},
}


class _GraphUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, ssc: RestorableContext) -> None:
        super().__init__(file)
        self._ssc = ssc

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(*_MOVED.get((module, name), (module, name)))

    def persistent_load(self, pid: Any) -> Any:
        if pid == "ssc":
            return self._ssc
        if pid == "ctx":
            return self._ssc.sparkContext
        if pid == "lock":
            return threading.Lock()
        if pid == "rlock":
            return threading.RLock()
        raise pickle.UnpicklingError(f"unknown reference {pid!r} in a saved graph")


def save_graph(ssc: RestorableContext, store: CheckpointStore, signer: Signer, location: str) -> None:
    """Save ``ssc``'s graph (before it starts), its conf and batch duration, signed."""
    queues = [s.id for s in ssc._graph.inputs if isinstance(s, QueueInputDStream)]
    if queues:
        raise GraphRestoreError(
            f"{MODE_KEY}=restore cannot save {', '.join(queues)}: a queueStream's RDDs live in "
            "this process only (Spark refuses to checkpoint it too); use the default rebuild mode")
    buffer = io.BytesIO()
    try:
        _GraphPickler(buffer, ssc).dump(ssc._graph)
    except Exception as e:
        raise GraphRestoreError(
            f"{MODE_KEY}=restore: the DStream graph cannot be pickled ({type(e).__name__}: {e}); "
            "its functions must not hold runtime objects (threads, sockets, open files): "
            "create those inside the functions, or use the default rebuild mode") from e
    conf = [(k, v) for k, v in ssc.sparkContext._conf.getAll() if k not in _NOT_SAVED]
    header = json.dumps({"format": _FORMAT, "version": _VERSION, "conf": conf,
                         "batch_ms": ssc.batch_duration_ms, "location": location}).encode()
    store.save(GRAPH_NAME, signer.sign(header + b"\n" + buffer.getvalue()))


def has_saved_graph(store: CheckpointStore) -> bool:
    return store.exists(GRAPH_NAME)


def load_graph(store: CheckpointStore, signer: Signer,
               streaming_context: Callable[[Context, float], C]) -> C:
    """A new Context and ``streaming_context`` (the class: ``StreamingContext``) running the
    saved graph. The signature is verified before anything is unpickled."""
    payload = signer.verify(store.load(GRAPH_NAME), GRAPH_NAME)
    head, _, graph_bytes = payload.partition(b"\n")
    header = json.loads(head.decode())
    if header.get("format") != _FORMAT or header.get("version") != _VERSION:
        raise GraphRestoreError(f"{GRAPH_NAME}: a saved graph of format {header.get('format')!r} "
                                f"version {header.get('version')!r}; this build reads version {_VERSION}")
    ctx = Context(conf=Conf(pairs=[tuple(kv) for kv in header["conf"]]))
    try:
        ssc = streaming_context(ctx, header["batch_ms"] / 1000)
        graph: DStreamGraph = _GraphUnpickler(io.BytesIO(graph_bytes), ssc).load()
        _attach(ssc, graph)
        ssc.checkpoint(header["location"])
    except BaseException:
        ctx.stop()
        raise
    return ssc


def _attach(ssc: RestorableContext, graph: DStreamGraph) -> None:
    """Make ``graph`` the context's graph; its receiver streams register with the tracker."""
    ssc._graph = graph
    for stream in graph.inputs:
        if isinstance(stream, ReceiverInputDStream):
            ssc._receiver_tracker.register(stream)


def checkpoint_contents(location: str) -> tuple[bool, bool]:
    """(holds a metadata checkpoint, holds a saved graph) for the checkpoint at ``location``;
    a directory that does not exist holds neither (and is not created here).

    >>> import os, tempfile
    >>> missing = os.path.join(tempfile.mkdtemp(), "nothing-yet")
    >>> checkpoint_contents(missing), os.path.exists(missing)
    ((False, False), False)
    """
    if "://" not in location or location.startswith("file://"):
        path = location[len("file://"):] if location.startswith("file://") else location
        if not os.path.isdir(path):
            return False, False
    store = open_store(location)
    try:
        return bool(list_generations(store, METADATA_KIND)), has_saved_graph(store)
    finally:
        store.close()


def restore(location: str, streaming_context: Callable[[Context, float], C]) -> C:
    """``getOrCreate`` in restore mode: the saved graph on a new ``streaming_context`` (the
    class; signature checked with the checkpoint key: the directory's key file, or
    DSTREAM_CHECKPOINT_KEY)."""
    store, signer = open_checkpoint_store(location, Conf())
    try:
        return load_graph(store, signer, streaming_context)
    finally:
        store.close()
