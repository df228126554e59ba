"""Shorter batching on Dask's message streams: ``dstream.dask.batchInterval``.

What it changes: Dask sends the messages between a client, the scheduler and the workers over
batched streams (``distributed.batched.BatchedSend``). Once a stream has sent, what comes next
waits until the stream's ``interval`` has passed since that send: 10 ms on a client's stream to
the scheduler, 5 ms on the scheduler's stream to each worker, 2 ms on the scheduler's stream to
each client and on each worker's stream to the scheduler. A message after a quiet spell goes at
once, so the interval costs only the second of two messages close together, and a small dstream
job has several such pairs on its path, e.g. a task's event then its end (worker -> scheduler
-> driver), a map task sent to a worker and, a few ms later, the reduce task to the same
worker, one job's graph right after the previous job's release of its keys: each pair waits out
an interval, hop after hop. Dask has no setting for these intervals (they are written in its
code), so this module sets the ``interval`` attribute of those stream objects:

- on the driver's client, its stream to the scheduler (``client.scheduler_comm``);
- on the scheduler (a ``SchedulerPlugin``, ``SchedulerIntervals``), its stream to every worker,
  including each worker that joins later (``add_worker``, called right after Dask makes that
  worker's stream), and its stream to the driver's client;
- on each worker (a ``WorkerPlugin``, ``WorkerIntervals``), its stream to the scheduler; the
  scheduler hands registered worker plugins to every worker that joins later.

Where: ``dstream.dask.batchIntervalScope``. ``auto`` (the default) applies everywhere on
``dask-local[N]``, the LocalCluster the backend makes and owns, and only on the driver's own
client on ``dask://HOST:PORT``, someone else's cluster whose scheduler and workers serve other
clients too. ``cluster`` applies everywhere there as well (the scheduler must be able to import
dstream, as the workers must; when the driver stops, the plugins are removed and each stream
gets back the interval it had). ``client`` touches the driver's stream only.
``dstream.dask.batchInterval`` 0 leaves Dask's own intervals everywhere.

Why 0.1 ms by default: a shorter interval means more, smaller writes when messages come in a
steady flow (more CPU per message on a busy cluster), nothing when they are rare. The small
batch on ``dask-local[2]`` (``benchmarks/README.md``, dask_overhead) measured ~19-21 ms with
Dask's intervals, ~18 ms at 1 ms and ~14 ms at 0.1 ms, with no loss in the batch word count's
throughput.

Not covered: a client that reconnects to its scheduler gets a new stream with Dask's 10 ms (the
backend's client does not reconnect on its own); the workers' streams to each other already use
1 ms.

>>> from dstream.conf import Conf
>>> BatchIntervals.from_conf(Conf(), owns_cluster=True)
BatchIntervals(seconds=0.0001, cluster=True)
>>> BatchIntervals.from_conf(Conf(), owns_cluster=False)          # dask://: the client only
BatchIntervals(seconds=0.0001, cluster=False)
>>> conf = Conf().set(INTERVAL_KEY, "2ms").set(SCOPE_KEY, "cluster")
>>> BatchIntervals.from_conf(conf, owns_cluster=False)
BatchIntervals(seconds=0.002, cluster=True)
>>> BatchIntervals.from_conf(Conf().set(INTERVAL_KEY, 0), owns_cluster=True).active
False
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from distributed.diagnostics.plugin import SchedulerPlugin, WorkerPlugin

if TYPE_CHECKING:
    from distributed import Client, Scheduler, Worker

    from ..conf import Conf

__all__ = ["INTERVAL_KEY", "SCOPE_KEY", "BatchIntervals", "SchedulerIntervals", "WorkerIntervals"]

log = logging.getLogger(__name__)

#: the setting: the interval of Dask's batched streams, in seconds (0: Dask's own)
INTERVAL_KEY = "dstream.dask.batchInterval"
#: the setting: where it applies: auto, client or cluster
SCOPE_KEY = "dstream.dask.batchIntervalScope"
_DEFAULT_SECONDS = 0.0001


@dataclass(frozen=True)
class BatchIntervals:
    """The interval to set (``seconds``; 0 sets none) and whether on the scheduler and the
    workers too (``cluster``) or on the driver's client only."""

    seconds: float
    cluster: bool

    @classmethod
    def from_conf(cls, conf: Conf | None, owns_cluster: bool) -> BatchIntervals:
        """The settings' intervals for a backend that made its cluster (``owns_cluster``:
        ``dask-local[N]``) or connects to one (``dask://``)."""
        if conf is None:
            return cls(_DEFAULT_SECONDS, owns_cluster)
        scope = conf.get(SCOPE_KEY, "auto")
        return cls(conf.getSeconds(INTERVAL_KEY),
                   scope == "cluster" or (scope == "auto" and owns_cluster))

    @property
    def active(self) -> bool:
        """Whether any interval is set (0 keeps Dask's own)."""
        return self.seconds > 0

    def apply(self, client: Client, name: str) -> bool:
        """Set the interval on ``client``'s stream to the scheduler and, for ``cluster``,
        register the plugins (named ``name``) that set it on the scheduler's and the workers'
        streams, now and for workers that join later. True when plugins were registered (for
        ``undo``); a cluster that refuses them (a scheduler without dstream) is logged and
        keeps its intervals."""
        if not self.active:
            return False
        stream = client.scheduler_comm
        if stream is not None:
            stream.interval = self.seconds
        if not self.cluster:
            return False
        try:
            client.register_plugin(SchedulerIntervals(self.seconds, client.id), name=name)
        except Exception as e:  # noqa: BLE001 - a speed-up, not worth failing the job for
            log.warning("%s=%s not applied on the Dask scheduler and workers (only on the "
                        "driver's stream): %r", INTERVAL_KEY, self.seconds, e)
            return False
        try:
            client.register_plugin(WorkerIntervals(self.seconds), name=name)
        except Exception as e:  # noqa: BLE001
            log.warning("%s=%s not applied on the Dask workers: %r", INTERVAL_KEY, self.seconds, e)
        return True

    @staticmethod
    def undo(client: Client, name: str) -> None:
        """Remove the plugins ``apply`` registered as ``name``: each worker's and the
        scheduler's streams get back the intervals the plugins found."""
        try:
            client.unregister_worker_plugin(name)  # type: ignore[no-untyped-call]  # no annotations
        except ValueError:          # never registered (the workers refused it)
            pass
        client.run_on_scheduler(_remove_scheduler_plugin, name)  # type: ignore[no-untyped-call]


class SchedulerIntervals(SchedulerPlugin):
    """On the scheduler: ``seconds`` on its stream to every worker (those there when the plugin
    starts and each that joins later) and on its stream to the client ``client``; ``undo``
    puts back what it found."""

    def __init__(self, seconds: float, client: str) -> None:
        self.seconds = seconds
        self.client = client
        self.found: dict[tuple[str, str], float] = {}

    async def start(self, scheduler: Scheduler) -> None:
        for worker in list(scheduler.stream_comms):
            self._set(scheduler, "worker", worker)
        self._set(scheduler, "client", self.client)

    def add_worker(self, scheduler: Scheduler, worker: str) -> None:
        # Scheduler.add_worker made the worker's stream just before calling the plugins
        self._set(scheduler, "worker", worker)

    def remove_worker(self, scheduler: Scheduler, worker: str, *, stimulus_id: str,
                      **kwargs: Any) -> None:
        self.found.pop(("worker", worker), None)

    def remove_client(self, scheduler: Scheduler, client: str) -> None:
        self.found.pop(("client", client), None)

    def undo(self, scheduler: Scheduler) -> None:
        """Each stream still open gets back the interval it had before this plugin."""
        for (kind, address), interval in self.found.items():
            stream = _streams(scheduler, kind).get(address)
            if stream is not None:
                stream.interval = interval
        self.found.clear()

    def _set(self, scheduler: Scheduler, kind: str, address: str) -> None:
        stream = _streams(scheduler, kind).get(address)
        if stream is not None:
            self.found.setdefault((kind, address), stream.interval)
            stream.interval = self.seconds


def _streams(scheduler: Scheduler, kind: str) -> dict[str, Any]:
    return scheduler.stream_comms if kind == "worker" else scheduler.client_comms


def _remove_scheduler_plugin(name: str, dask_scheduler: Scheduler) -> None:
    """Run on the scheduler (``Client.run_on_scheduler``): undo and remove the plugin ``name``."""
    plugin = dask_scheduler.plugins.get(name)
    if isinstance(plugin, SchedulerIntervals):
        plugin.undo(dask_scheduler)
        dask_scheduler.remove_plugin(name)


class WorkerIntervals(WorkerPlugin):
    """On each worker: ``seconds`` on its stream to the scheduler; ``teardown`` (the plugin
    removed, or the worker closing) puts back what it found."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.found: float | None = None

    def setup(self, worker: Worker) -> None:
        self.found = worker.batched_stream.interval
        worker.batched_stream.interval = self.seconds

    def teardown(self, worker: Worker) -> None:
        if self.found is not None:
            worker.batched_stream.interval = self.found
            self.found = None
