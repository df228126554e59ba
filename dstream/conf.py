"""Configuration: ``Conf`` plays PySpark's ``SparkConf`` (string keys and values), checked
against one registry of settings.

Every setting is one line in ``SETTINGS``: its key, type, default, unit, the ``spark.*`` key
Spark reads for the same thing (a value set under that name counts for the dstream key, in
Spark's units) and one line of documentation. A ``Context`` checks its conf when it is made:
an unknown ``dstream.*`` key or a value of the wrong type is a ``ConfError`` naming the key,
the value and the closest known key; a ``spark.*`` key with no meaning here is logged once as
ignored.

>>> conf = Conf().setMaster("local[2]").setAppName("demo").set("dstream.task.maxFailures", 2)
>>> conf.get("spark.app.name"), conf.getInt("dstream.task.maxFailures", 4)
('demo', 2)
>>> Conf().set("spark.streaming.blockInterval", "50").getSeconds("dstream.streaming.blockInterval")
0.05
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from typing import Callable, Iterable

__all__ = ["Conf", "ConfError", "Setting", "SETTINGS", "SPARK_ALIASES", "parse_duration"]

log = logging.getLogger(__name__)

MASTER_KEY = "spark.master"
APP_NAME_KEY = "spark.app.name"
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_NO_DEFAULT = object()


class ConfError(ValueError):
    """A configuration key that is unknown, or a value of the wrong type."""


@dataclass(frozen=True)
class Setting:
    """One configuration key: ``kind`` is bool, int, float, duration, string or one of
    ``choices``; ``spark`` is Spark's key for the same setting, whose bare numbers mean
    ``spark_unit`` (``ms`` or ``s``, for durations) or which ``from_spark`` translates."""

    key: str
    kind: str
    default: object
    unit: str
    doc: str
    spark: str | None = None
    choices: tuple[str, ...] = ()
    spark_unit: str = ""
    from_spark: Callable[[str], str] | None = None
    secret: bool = False

    def parse(self, raw: str, set_as: str | None = None) -> object:
        """``raw`` as this setting's type; ConfError naming the key (``set_as``, the Spark
        name it was set under, if so), the value and the type.

        >>> SETTINGS["dstream.streaming.concurrentJobs"].parse("2")
        2
        >>> SETTINGS["dstream.streaming.concurrentJobs"].parse("two")
        Traceback (most recent call last):
        ...
        dstream.conf.ConfError: dstream.streaming.concurrentJobs='two' is not an integer (batches run at once)
        """
        parser = _PARSERS[self.kind]
        try:
            value = parser(raw, self)
        except ValueError:
            shown = "***" if self.secret else repr(raw)
            meaning = f"{self.key}: {self.doc}" if set_as else self.doc
            raise ConfError(f"{set_as or self.key}={shown} is not {_KIND_TEXT[self.kind](self)} "
                            f"({meaning})") from None
        return value

    def from_spark_value(self, raw: str) -> str:
        """A value set under the Spark key, in this setting's terms (Spark's bare units)."""
        if self.from_spark is not None:
            return self.from_spark(raw)
        text = raw.strip()
        if self.kind == "duration" and self.spark_unit and _is_number(text):
            return text + self.spark_unit
        return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_bool(raw: str, _s: Setting) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(raw)


def _parse_choice(raw: str, s: Setting) -> str:
    if raw.strip().lower() not in s.choices:
        raise ValueError(raw)
    return raw.strip().lower()


def _parse_optional_float(raw: str, _s: Setting) -> float:
    value = float(raw)
    if value < 0:
        raise ValueError(raw)
    return value


_PARSERS: dict[str, Callable[[str, Setting], object]] = {
    "bool": _parse_bool,
    "int": lambda raw, _s: int(raw),
    "float": _parse_optional_float,
    "duration": lambda raw, s: parse_duration(raw, s.key),
    "string": lambda raw, _s: raw,
    "choice": _parse_choice,
}
_KIND_TEXT: dict[str, Callable[[Setting], str]] = {
    "bool": lambda s: "a boolean (use true or false)",
    "int": lambda s: "an integer",
    "float": lambda s: "a non-negative number",
    "duration": lambda s: "a duration (e.g. 200ms, 2s, 1min)",
    "string": lambda s: "a string",
    "choice": lambda s: "one of " + ", ".join(s.choices),
}


def _spark_clock(raw: str) -> str:
    """Spark names its clock by class (``org.apache.spark.util.ManualClock``)."""
    return "manual" if raw.strip().endswith("ManualClock") else "system" if raw.strip().endswith(
        "SystemClock") else raw


_S = Setting
#: Every configuration key, one line each. Adding a key is adding a line here.
SETTINGS: dict[str, Setting] = {s.key: s for s in [
    _S("spark.master", "string", "local[*]", "", "master URL: local, local[N], local[*], dask://HOST:PORT, dask-local[N]"),
    _S("spark.app.name", "string", "dstream", "", "application name"),
    _S("spark.default.parallelism", "int", None, "partitions", "default partitions of parallelize and pair operations (default: the executors' cores)"),
    _S("dstream.task.maxFailures", "int", 4, "attempts", "attempts per task before its job fails", spark="spark.task.maxFailures"),
    _S("dstream.storage.memoryBudgetBytes", "int", 512 << 20, "bytes", "memory the driver's block manager keeps before spilling blocks to disk"),
    _S("dstream.memory.tuneMalloc", "bool", True, "", "fix glibc malloc's trim and mmap thresholds (128 KiB) in the driver and process workers, so that memory a long job frees goes back to the system"),
    _S("dstream.dask.inlineStageCodeBytes", "int", 64 << 10, "bytes", "Dask: stage code up to this size travels inside each task"),
    _S("dstream.dask.wholeMapOutputPartitions", "int", 2, "partitions", "Dask: shuffles with up to this many reduce partitions read whole map outputs (no bucket task); 0 turns it off"),
    _S("dstream.dask.batchInterval", "duration", 0.0001, "s", "Dask: the least time between two sends on Dask's batched message streams (Dask's own: 2-10 ms), set on the driver's client and, per dstream.dask.batchIntervalScope, on the scheduler and the workers; 0 keeps Dask's own"),
    _S("dstream.dask.batchIntervalScope", "choice", "auto", "", "Dask: where dstream.dask.batchInterval applies. cluster: the driver's client, the scheduler's streams to the workers and to the driver, each worker's stream, workers that join later too (on dask://, dstream must be importable on the scheduler; put back when the driver stops); client: the driver's stream only; auto: cluster for dask-local[N], client for dask://", choices=("auto", "client", "cluster")),
    _S("dstream.dask.directToWorkers", "choice", "auto", "", "Dask: the driver sends received blocks to the workers and reads results from them directly (true), or through the scheduler (false: one more hop for every byte, for clusters whose workers the driver cannot reach); auto: true for dask-local[N], Dask's own choice (through the scheduler) for dask://", choices=("auto", "true", "false")),
    _S("dstream.dask.driverReplica", "bool", True, "", "Dask: the driver keeps one of a received block's replicas (as Spark's receiver keeps one on its own executor), so a block with replication 2 goes to one worker, not two; the driver's copy counts in its block manager's memory and leaves it (for the write-ahead log's record, or a file on the driver's disk) when its batch is done or first when the driver is over budget"),
    _S("dstream.streaming.concurrentJobs", "int", 1, "batches", "batches run at once", spark="spark.streaming.concurrentJobs"),
    _S("dstream.streaming.blockInterval", "duration", 0.2, "s", "how often received records are cut into a block", spark="spark.streaming.blockInterval", spark_unit="ms"),
    _S("dstream.streaming.blockCutLead", "duration", None, "s", "block cuts fall this long before each multiple of the block interval on the system clock, so each batch's last block is cut this long before its batch time (when the batch duration is a multiple of the block interval) and its map side, run ahead, is done by then; a record received in that time waits for the next batch; 0: at the batch times, as Spark's, where the batch waits for its last block's map side (default: three quarters of the block interval)"),
    _S("dstream.streaming.receiver.maxRate", "float", None, "records/s per receiver", "the most records each receiver takes per second", spark="spark.streaming.receiver.maxRate"),
    _S("dstream.streaming.receiver.bufferRecords", "int", 100_000, "records", "records a receiver buffers before store() blocks"),
    _S("dstream.streaming.receiver.maxRecordBytes", "int", 1 << 20, "bytes", "longer socket lines are dropped and counted"),
    _S("dstream.streaming.receiver.decodeErrors", "choice", "replace", "", "strict drops undecodable lines (counted either way)", choices=("replace", "strict")),
    _S("dstream.streaming.backpressure.enabled", "bool", False, "", "PID rate control of the receivers from batch timings", spark="spark.streaming.backpressure.enabled"),
    _S("dstream.streaming.backpressure.initialRate", "float", None, "records/s per receiver", "the first batches' limit under backpressure", spark="spark.streaming.backpressure.initialRate"),
    _S("dstream.streaming.backpressure.pid.minRate", "float", 100.0, "records/s", "the lowest rate backpressure sets", spark="spark.streaming.backpressure.pid.minRate"),
    _S("dstream.streaming.backpressure.pid.proportional", "float", 1.0, "", "weight of the current rate error in the PID rate estimate", spark="spark.streaming.backpressure.pid.proportional"),
    _S("dstream.streaming.backpressure.pid.integral", "float", 0.2, "", "weight of the accumulated (scheduling delay) error", spark="spark.streaming.backpressure.pid.integral"),
    _S("dstream.streaming.backpressure.pid.derived", "float", 0.0, "", "weight of the change of the error", spark="spark.streaming.backpressure.pid.derived"),
    _S("dstream.streaming.receiver.restartDelay", "duration", 0.2, "s", "first wait before a failed receiver restarts (doubling up to 10 s)", spark="spark.streaming.receiverRestartDelay", spark_unit="ms"),
    _S("dstream.streaming.fileStream.minRememberDuration", "duration", 60.0, "s", "file streams ignore files older than this before the batch (at least one batch)", spark="spark.streaming.fileStream.minRememberDuration", spark_unit="s"),
    _S("dstream.streaming.kafka.maxRatePerPartition", "float", None, "records/s per partition", "Kafka direct streams: the most records read per second from each partition", spark="spark.streaming.kafka.maxRatePerPartition"),
    _S("dstream.streaming.kafka.minRatePerPartition", "float", 1.0, "records/s per partition", "Kafka direct streams: the least a lagging partition gives a batch under backpressure", spark="spark.streaming.kafka.minRatePerPartition"),
    _S("dstream.streaming.kafka.receiver.commitTimeout", "duration", 10.0, "s", "Kafka receiver: how long an offset commit is retried before the failure is reported (its offsets stay pending; the receiver reads on from what it stored)"),
    _S("dstream.streaming.kafka.receiver.stallTimeout", "duration", 30.0, "s", "Kafka receiver: no records and no answer from the brokers this long is reported as a stall; 0 turns it off"),
    _S("dstream.streaming.mapAhead.enable", "bool", True, "", "run each received block's map side (its functions up to the first shuffle) when the block is stored, with the last batch's map stage, instead of at the batch time (local[N] and Dask)"),
    _S("dstream.streaming.receiver.releaseEarly", "bool", True, "", "a succeeded batch's received blocks leave memory once no remembered RDD can read them (kept on disk, or in the write-ahead log, until the remember duration ends)"),
    _S("dstream.streaming.receiver.writeAheadLog.enable", "bool", False, "", "log received blocks in the checkpoint store before acknowledging them", spark="spark.streaming.receiver.writeAheadLog.enable"),
    _S("dstream.streaming.receiver.writeAheadLog.rollingIntervalSecs", "duration", 60.0, "s", "how often the write-ahead log starts a new segment", spark="spark.streaming.receiver.writeAheadLog.rollingIntervalSecs", spark_unit="s"),
    _S("dstream.streaming.checkpoint.retained", "int", 3, "checkpoints", "metadata checkpoints kept"),
    _S("dstream.streaming.checkpoint.maxRetryDelay", "duration", 10.0, "s", "the longest wait between retries of a failed checkpoint write"),
    _S("dstream.streaming.checkpoint.maxAge", "duration", None, "s", "/readyz answers 503 once the last checkpoint is older than this (default: max(60 s, 3 batches))"),
    _S("dstream.streaming.checkpoint.stopAfter", "duration", None, "s", "the daemon stops the job once checkpoints have failed this long (default: max(600 s, 10 batches))"),
    _S("dstream.streaming.state.snapshotEvery", "int", 10, "checkpoints", "mapWithState checkpoints write the keys changed since the previous one; a full snapshot every this many (1: always a snapshot)"),
    _S("dstream.checkpoint.key", "string", None, "", "secret that signs pickled state (needed for Redis; or DSTREAM_CHECKPOINT_KEY)", secret=True),
    _S("dstream.checkpoint.discardState", "bool", False, "", "at recovery keep the source positions only and start every state fresh"),
    _S("dstream.streaming.recovery.mode", "choice", "rebuild", "", "rebuild: getOrCreate calls the setup function again; restore: the saved graph, as PySpark", choices=("rebuild", "restore")),
    _S("dstream.streaming.ui.retainedBatches", "int", 1000, "batches", "batches kept for the HTTP API", spark="spark.streaming.ui.retainedBatches"),
    _S("dstream.streaming.stopTimeout", "duration", 60.0, "s", "time limit of each step of a stop", spark="spark.streaming.gracefulStopTimeout", spark_unit="ms"),
    _S("dstream.streaming.stopGracefullyOnShutdown", "bool", False, "", "SIGTERM/SIGINT stop a started context gracefully (the daemon always does)", spark="spark.streaming.stopGracefullyOnShutdown"),
    _S("dstream.streaming.clock", "choice", "system", "", "manual: a clock tests advance by hand", spark="spark.streaming.clock", choices=("system", "manual"), from_spark=_spark_clock),
]}
del _S

#: Spark key -> the dstream setting that honours it
SPARK_ALIASES: dict[str, Setting] = {s.spark: s for s in SETTINGS.values() if s.spark}

_warned: set[str] = set()


def _closest(key: str, known: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return close[0] if close else None


class Conf:
    """Key/value settings of a Context (``spark.*`` and ``dstream.*`` keys alike).

    ``getX(key)`` without a default returns the registry's default. A key set under its
    Spark name (``spark.streaming.receiver.maxRate``) is read under its dstream name.
    """

    def __init__(self, loadDefaults: bool = True, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._settings: dict[str, str] = {}
        for key, value in pairs:
            self.set(key, value)

    def set(self, key: str, value: object) -> Conf:
        """Set ``key`` to ``str(value)`` (booleans as ``true``/``false``); returns this Conf.

        >>> conf = Conf().set("spark.app.name", "demo")
        >>> conf.set("spark.streaming.backpressure.enabled", True) is conf
        True
        >>> conf.get("spark.app.name"), conf.get("spark.streaming.backpressure.enabled")
        ('demo', 'true')
        """
        if not isinstance(key, str) or not key:
            raise TypeError(f"configuration keys are non-empty strings, got {key!r}")
        self._settings[key] = str(value).lower() if isinstance(value, bool) else str(value)
        return self

    def setIfMissing(self, key: str, value: object) -> Conf:
        """Set ``key`` unless it has a value (under its own or its Spark name); returns this Conf.

        >>> conf = Conf().set("spark.app.name", "demo")
        >>> conf.setIfMissing("spark.app.name", "other").setIfMissing("spark.master", "local")
        Conf({'spark.app.name': 'demo', 'spark.master': 'local'})
        """
        if self._raw(key) is None:
            self.set(key, value)
        return self

    def setAll(self, pairs: Iterable[tuple[str, object]]) -> Conf:
        """Set each ``(key, value)`` of ``pairs``; returns this Conf.

        >>> Conf().setAll([("spark.master", "local[2]"), ("spark.app.name", "demo")]).getAll()
        [('spark.app.name', 'demo'), ('spark.master', 'local[2]')]
        """
        for key, value in pairs:
            self.set(key, value)
        return self

    def setMaster(self, value: str) -> Conf:
        """Set ``spark.master``: ``local``, ``local[N]``, ``local[*]``, ``dask://HOST:PORT`` or
        ``dask-local[N]``.

        >>> Conf().setMaster("local[2]").get("spark.master")
        'local[2]'
        """
        return self.set(MASTER_KEY, value)

    def setAppName(self, value: str) -> Conf:
        """Set ``spark.app.name``.

        >>> Conf().setAppName("wordcount").get("spark.app.name")
        'wordcount'
        """
        return self.set(APP_NAME_KEY, value)

    def _raw(self, key: str) -> str | None:
        """The value of ``key``, or of its Spark name translated to dstream's units."""
        raw = self._settings.get(key)
        if raw is not None:
            return raw
        setting = SETTINGS.get(key)
        if setting is not None and setting.spark is not None:
            spark_raw = self._settings.get(setting.spark)
            if spark_raw is not None:
                return setting.from_spark_value(spark_raw)
        return None

    def _default(self, key: str, default: object) -> object:
        if default is not _NO_DEFAULT:
            return default
        setting = SETTINGS.get(key)
        if setting is None:
            raise ConfError(f"configuration key {key!r} is not registered in dstream.conf.SETTINGS "
                            "and no default was given")
        return setting.default

    def get(self, key: str, defaultValue: str | None = None) -> str | None:
        """The value of ``key`` as set (a string), or ``defaultValue``.

        >>> conf = Conf().set("spark.streaming.blockInterval", "50")
        >>> conf.get("spark.streaming.blockInterval"), conf.get("dstream.streaming.blockInterval")
        ('50', '50ms')
        >>> conf.get("spark.executor.memory") is None, conf.get("spark.executor.memory", "1g")
        (True, '1g')
        """
        raw = self._raw(key)
        return defaultValue if raw is None else raw

    def getInt(self, key: str, default: object = _NO_DEFAULT) -> int:
        """``key`` as an int; without ``default``, the registry's default for an unset key.

        >>> conf = Conf().set("spark.task.maxFailures", "8")
        >>> conf.getInt("dstream.task.maxFailures"), conf.getInt("dstream.streaming.concurrentJobs")
        (8, 1)
        >>> conf.getInt("my.key", 3)
        3
        """
        raw = self._raw(key)
        if raw is None:
            return self._default(key, default)  # type: ignore[return-value]
        try:
            return int(raw)
        except ValueError:
            raise ConfError(f"configuration {key}={raw!r} is not an integer") from None

    def getFloat(self, key: str, default: object = _NO_DEFAULT) -> float:
        """``key`` as a float; without ``default``, the registry's default for an unset key.

        >>> conf = Conf().set("spark.streaming.backpressure.pid.integral", "0.5")
        >>> conf.getFloat("dstream.streaming.backpressure.pid.integral")
        0.5
        >>> conf.getFloat("dstream.streaming.backpressure.pid.minRate"), conf.getFloat("my.x", 1.5)
        (100.0, 1.5)
        """
        raw = self._raw(key)
        if raw is None:
            return self._default(key, default)  # type: ignore[return-value]
        try:
            return float(raw)
        except ValueError:
            raise ConfError(f"configuration {key}={raw!r} is not a number") from None

    def getBoolean(self, key: str, default: object = _NO_DEFAULT) -> bool:
        """``key`` as a bool (``true``/``false``, ``1``/``0``, ``yes``/``no``, ``on``/``off``).

        >>> conf = Conf().set("spark.streaming.backpressure.enabled", "true")
        >>> conf.getBoolean("dstream.streaming.backpressure.enabled")
        True
        >>> conf.getBoolean("dstream.checkpoint.discardState"), conf.getBoolean("my.flag", True)
        (False, True)
        """
        raw = self._raw(key)
        if raw is None:
            return self._default(key, default)  # type: ignore[return-value]
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ConfError(f"configuration {key}={raw!r} is not a boolean (use true or false)")

    def getSeconds(self, key: str, default: object = _NO_DEFAULT) -> float:
        """A duration in seconds; accepts ``200ms``, ``2s``, ``1min`` or a bare number of seconds.

        >>> conf = Conf().set("dstream.streaming.stopTimeout", "2min")
        >>> conf.getSeconds("dstream.streaming.stopTimeout")
        120.0
        >>> conf.getSeconds("dstream.streaming.blockInterval")
        0.2
        """
        raw = self._raw(key)
        if raw is None:
            return self._default(key, default)  # type: ignore[return-value]
        return parse_duration(raw, key)

    def contains(self, key: str) -> bool:
        """Whether ``key`` has a value (set under its own or its Spark name).

        >>> conf = Conf().set("spark.task.maxFailures", "8")
        >>> conf.contains("dstream.task.maxFailures"), conf.contains("spark.master")
        (True, False)
        """
        return self._raw(key) is not None

    def getAll(self) -> list[tuple[str, str]]:
        """The ``(key, value)`` pairs as set, sorted by key.

        >>> Conf().setAppName("demo").setMaster("local").getAll()
        [('spark.app.name', 'demo'), ('spark.master', 'local')]
        """
        return sorted(self._settings.items())

    def copy(self) -> Conf:
        """An independent copy of this Conf.

        >>> conf = Conf().setAppName("demo")
        >>> clone = conf.copy().setAppName("other")
        >>> conf.get("spark.app.name"), clone.get("spark.app.name")
        ('demo', 'other')
        """
        return Conf(pairs=self._settings.items())

    def validate(self, log_ignored: bool = True) -> list[str]:
        """Check every key against the registry (``Context`` does, when it is made); return
        the ``spark.*`` keys that have no meaning here, each logged once as ignored (unless
        ``log_ignored`` is False).

        >>> Conf().set("dstream.streaming.concurentJobs", "2").validate()
        Traceback (most recent call last):
        ...
        dstream.conf.ConfError: unknown configuration key dstream.streaming.concurentJobs='2' (did you mean dstream.streaming.concurrentJobs?)
        >>> Conf().set("spark.streaming.receiver.maxRate", "1000").validate()
        []
        """
        ignored = []
        for key, raw in self._settings.items():
            setting = SETTINGS.get(key) or SPARK_ALIASES.get(key)
            if setting is not None:
                if setting.key == key:
                    setting.parse(raw)
                else:
                    setting.parse(setting.from_spark_value(raw), set_as=key)
            elif key.startswith("dstream."):
                close = _closest(key, SETTINGS)
                hint = f" (did you mean {close}?)" if close else (
                    "; the known keys are listed in dstream.conf.SETTINGS and on the docs' "
                    "Configuration page")
                raise ConfError(f"unknown configuration key {key}={raw!r}{hint}")
            elif key.startswith("spark."):
                ignored.append(key)
                if log_ignored:
                    _warn_ignored(key)
        return ignored

    def toDebugString(self) -> str:
        """The settings, one ``key=value`` a line, sorted by key.

        >>> print(Conf().setAppName("demo").setMaster("local").toDebugString())
        spark.app.name=demo
        spark.master=local
        """
        return "\n".join(f"{k}={v}" for k, v in self.getAll())

    def __repr__(self) -> str:
        return f"Conf({dict(self.getAll())!r})"


def _warn_ignored(key: str) -> None:
    if key in _warned:
        return
    _warned.add(key)
    close = _closest(key, SPARK_ALIASES)
    hint = f" (did you mean {close}?)" if close else ""
    log.warning("Spark setting %s has no meaning in dstream and is ignored%s", key, hint)


_UNITS = (("ms", 0.001), ("min", 60.0), ("s", 1.0), ("h", 3600.0))


def parse_duration(raw: str, key: str = "duration") -> float:
    """Seconds in ``raw``.

    >>> parse_duration("200ms"), parse_duration("2s"), parse_duration("1.5")
    (0.2, 2.0, 1.5)
    """
    text = raw.strip().lower()
    for suffix, scale in _UNITS:
        if text.endswith(suffix):
            number = text[: -len(suffix)]
            break
    else:
        number, scale = text, 1.0
    try:
        return float(number) * scale
    except ValueError:
        raise ValueError(f"configuration {key}={raw!r} is not a duration (e.g. 200ms, 2s, 1min)") from None
