"""Configuration: ``Conf`` plays PySpark's ``SparkConf`` (string keys and values).

>>> conf = Conf().setMaster("local[2]").setAppName("demo").set("dstream.task.maxFailures", 2)
>>> conf.get("spark.app.name"), conf.getInt("dstream.task.maxFailures", 4)
('demo', 2)
"""

from __future__ import annotations

from typing import Iterable

__all__ = ["Conf"]

MASTER_KEY = "spark.master"
APP_NAME_KEY = "spark.app.name"
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class Conf:
    """Key/value settings of a Context (``spark.*`` and ``dstream.*`` keys alike)."""

    def __init__(self, loadDefaults: bool = True, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._settings: dict[str, str] = {}
        for key, value in pairs:
            self.set(key, value)

    def set(self, key: str, value: object) -> Conf:
        if not isinstance(key, str) or not key:
            raise TypeError(f"configuration keys are non-empty strings, got {key!r}")
        self._settings[key] = str(value).lower() if isinstance(value, bool) else str(value)
        return self

    def setIfMissing(self, key: str, value: object) -> Conf:
        if key not in self._settings:
            self.set(key, value)
        return self

    def setAll(self, pairs: Iterable[tuple[str, object]]) -> Conf:
        for key, value in pairs:
            self.set(key, value)
        return self

    def setMaster(self, value: str) -> Conf:
        return self.set(MASTER_KEY, value)

    def setAppName(self, value: str) -> Conf:
        return self.set(APP_NAME_KEY, value)

    def get(self, key: str, defaultValue: str | None = None) -> str | None:
        return self._settings.get(key, defaultValue)

    def getInt(self, key: str, default: int) -> int:
        raw = self._settings.get(key)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"configuration {key}={raw!r} is not an integer") from None

    def getFloat(self, key: str, default: float) -> float:
        raw = self._settings.get(key)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"configuration {key}={raw!r} is not a number") from None

    def getBoolean(self, key: str, default: bool) -> bool:
        raw = self._settings.get(key)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ValueError(f"configuration {key}={raw!r} is not a boolean (use true or false)")

    def getSeconds(self, key: str, default: float) -> float:
        """A duration in seconds; accepts ``200ms``, ``2s``, ``1min`` or a bare number of seconds."""
        raw = self._settings.get(key)
        if raw is None:
            return default
        return parse_duration(raw, key)

    def contains(self, key: str) -> bool:
        return key in self._settings

    def getAll(self) -> list[tuple[str, str]]:
        return sorted(self._settings.items())

    def copy(self) -> Conf:
        return Conf(pairs=self._settings.items())

    def toDebugString(self) -> str:
        return "\n".join(f"{k}={v}" for k, v in self.getAll())

    def __repr__(self) -> str:
        return f"Conf({dict(self.getAll())!r})"


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
