"""The daemon's settings: flags > environment > TOML file > job defaults > built-in defaults.

Plain dataclasses rather than pydantic-settings: the four layers, the per-key provenance
(``--show-config`` says where each value came from) and error messages that name the
layer holding a bad value (``DSTREAM_HTTP='x': ...``, ``dstream.toml: unknown key ...``)
are a page of code here, while a settings library would report a field name without the
layer and treats the job module's defaults as a foreign source.

>>> s = load_settings(flags={"master": "local[2]"}, env={"DSTREAM_BATCH_SECONDS": "2"},
...                   job_defaults={"BATCH_SECONDS": 5, "CONF": {"dstream.task.maxFailures": 1}})
>>> s.master, s.batch_seconds, s.conf, s.sources["batch_seconds"], str(s.http)
('local[2]', 2.0, {'dstream.task.maxFailures': '1'}, 'environment DSTREAM_BATCH_SECONDS', '127.0.0.1:4040')
>>> load_settings(flags={}, env={"DSTREAM_CHEKPOINT": "x"})
Traceback (most recent call last):
...
dstream.service.settings.ConfigError: unknown environment variable DSTREAM_CHEKPOINT (did you mean DSTREAM_CHECKPOINT?)
"""

from __future__ import annotations

import difflib
import json
import sys
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping

from dstream.conf import Conf, ConfError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["ConfigError", "HttpAddress", "Settings", "load_settings", "ENV_PREFIX", "JOB_DEFAULTS"]

ENV_PREFIX = "DSTREAM_"
#: DSTREAM_* variables that the engine reads itself (not settings of the daemon)
ENGINE_ENV = {ENV_PREFIX + "CONFIG", ENV_PREFIX + "CHECKPOINT_KEY"}
#: module-level names a job may define -> the setting they give a default for
JOB_DEFAULTS = {"MASTER": "master", "APP_NAME": "app_name", "BATCH_SECONDS": "batch_seconds",
                "CHECKPOINT": "checkpoint", "CONF": "conf"}


class ConfigError(ValueError):
    """A setting that is unknown or invalid, naming where it came from."""


@dataclass(frozen=True)
class HttpAddress:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


# ---------------------------------------------------------------------- value parsers
def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
    return value.strip()


def _seconds(value: Any, where: str) -> float:
    number: float
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a number of seconds, got {value!r}")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        try:
            number = float(str(value).strip().removesuffix("s"))
        except ValueError:
            raise ConfigError(f"{where}: expected a number of seconds, got {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise ConfigError(f"{where}: expected a positive number of seconds, got {value!r}")
    return number


def _positive(value: Any, where: str) -> float:
    try:
        return _seconds(value, where)
    except ConfigError:
        raise ConfigError(f"{where}: expected a positive number, got {value!r}") from None


def _http(value: Any, where: str) -> HttpAddress | None:
    text = _text(value, where)
    if text.lower() in ("off", "none", "no", "false"):
        return None
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"{where}: expected HOST:PORT (e.g. 127.0.0.1:4040, [::1]:4040, "
                          f"0.0.0.0:4040) or 'off', got {value!r}")
    return HttpAddress(host, int(port_text))


def _choice(*allowed: str) -> Callable[[Any, str], str]:
    def parse(value: Any, where: str) -> str:
        text = _text(value, where).lower()
        if text not in allowed:
            raise ConfigError(f"{where}: expected one of {', '.join(allowed)}, got {value!r}")
        return text
    return parse


def _conf(value: Any, where: str) -> dict[str, str]:
    """A table of Conf keys; values are strings, numbers or booleans, checked against the
    engine's settings registry (an unknown ``dstream.*`` key or a mistyped value is an error
    naming this layer)."""
    return _checked_conf(_conf_pairs(value, where), where)


def _checked_conf(pairs: dict[str, str], where: str) -> dict[str, str]:
    try:
        Conf().setAll(pairs.items()).validate(log_ignored=False)   # the Context logs those
    except ConfError as e:
        raise ConfigError(f"{where}: {e}") from None
    return pairs


def _conf_pairs(value: Any, where: str) -> dict[str, str]:
    if isinstance(value, (list, tuple)):          # --conf k=v (repeatable)
        pairs = {}
        for item in value:
            key, sep, val = str(item).partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"{where}: expected KEY=VALUE, got {item!r}")
            pairs[key.strip()] = val
        return pairs
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a table of key = value, got {type(value).__name__}")
    out = {}
    for key, val in value.items():
        if isinstance(val, bool):
            out[str(key)] = str(val).lower()
        elif isinstance(val, (str, int, float)):
            out[str(key)] = str(val)
        else:
            raise ConfigError(f"{where}: conf key {key!r} needs a string, number or boolean, "
                              f"got {type(val).__name__}")
    return out


@dataclass(frozen=True)
class _Key:
    name: str
    parse: Callable[[Any, str], Any]
    help: str
    env: bool = True

    @property
    def env_name(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


KEYS: dict[str, _Key] = {k.name: k for k in [
    _Key("master", _text, "master URL: local, local[N], local[*], dask://HOST:PORT, dask-local[N]"),
    _Key("app_name", _text, "application name (default: the job file's name)"),
    _Key("batch_seconds", _seconds, "batch interval in seconds"),
    _Key("checkpoint", _text, "checkpoint directory or redis:// URL; recovered from when present"),
    _Key("http", _http, "HOST:PORT of the monitoring app, or 'off'"),
    _Key("token", _text, "bearer token every HTTP route then requires"),
    _Key("conf", _conf, "Conf entries (--conf KEY=VALUE, repeatable; [conf] table in the file)",
         env=False),
    _Key("ready_max_lag", _positive, "/readyz fails while the oldest unfinished batch is older "
                                     "than this many batch intervals"),
    _Key("drain_timeout", _seconds, "time limit of each graceful-stop phase, seconds"),
    _Key("stop_after", _seconds, "stop gracefully after this many seconds (default: run until "
                                 "SIGTERM/SIGINT)"),
    _Key("on_batch_error", _choice("stop", "continue"),
         "when a batch fails: 'stop' (drain and exit 1, as awaitTermination raises) or 'continue'"),
    _Key("log_level", _choice("debug", "info", "warning", "error"), "log level"),
]}


@dataclass
class Settings:
    master: str | None = None
    app_name: str | None = None
    batch_seconds: float = 1.0
    checkpoint: str | None = None
    http: HttpAddress | None = field(default_factory=lambda: HttpAddress("127.0.0.1", 4040))
    token: str | None = None
    conf: dict[str, str] = field(default_factory=dict)
    ready_max_lag: float = 10.0
    drain_timeout: float = 30.0
    stop_after: float | None = None
    on_batch_error: str = "stop"
    log_level: str = "info"
    #: setting -> where its value came from ("--master", "environment DSTREAM_MASTER", ...)
    sources: dict[str, str] = field(default_factory=dict)
    config_file: str | None = None

    def describe(self) -> str:
        """The effective settings as TOML (usable as a --config file), each with where it came
        from; the token is hidden."""
        lines = []
        for f in fields(self):
            if f.name in ("sources", "config_file", "conf"):
                continue
            value = getattr(self, f.name)
            where = self.sources.get(f.name, "default")
            if value is None:
                lines.append(f"# {f.name} is unset  # {where}")
                continue
            if f.name == "token":
                shown = '"***"'
            elif isinstance(value, (str, HttpAddress)):
                shown = json.dumps(str(value))
            else:
                shown = repr(value)
            lines.append(f"{f.name} = {shown}  # {where}")
        lines.append("[conf]")
        for key, value in sorted(self.conf.items()):
            lines.append(f"{json.dumps(key)} = {json.dumps(value)}  # {self.sources.get('conf.' + key)}")
        return "\n".join(lines)


def _unknown(name: str, known: list[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]}?)" if close else f"; known: {', '.join(sorted(known))}"
    return ConfigError(f"unknown {where} {name}{hint}")


def _read_file(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from e
    except OSError as e:
        raise ConfigError(f"config file {path} cannot be read: {e}") from e
    for key in data:
        if key not in KEYS:
            raise _unknown(key, list(KEYS), f"key in {path}:")
    return data


def load_settings(*, flags: Mapping[str, Any], env: Mapping[str, str] | None = None,
                  config_file: str | None = None, job_defaults: Mapping[str, Any] | None = None,
                  job_name: str = "job") -> Settings:
    """Merge the layers. ``flags`` holds only the flags given (None values are ignored);
    ``env`` defaults to nothing (pass ``os.environ``); ``config_file`` may also come from
    ``DSTREAM_CONFIG``. Raises ConfigError naming the first bad key and its layer."""
    env = dict(env or {})
    layers: list[tuple[str, dict[str, Any], Callable[[str], str]]] = []

    job: dict[str, Any] = {}
    for attr, value in (job_defaults or {}).items():
        if attr not in JOB_DEFAULTS:
            raise _unknown(attr, list(JOB_DEFAULTS), f"job default in {job_name}:")
        if value is not None:
            job[JOB_DEFAULTS[attr]] = value
    job_where = {v: k for k, v in JOB_DEFAULTS.items()}
    layers.append(("job", job, lambda k: f"job {job_name} {job_where[k]}"))

    config_file = config_file or env.get(ENV_PREFIX + "CONFIG") or None
    if config_file:
        layers.append(("file", _read_file(config_file), lambda k: f"{config_file}: {k}"))

    from_env: dict[str, Any] = {}
    env_names = {k.env_name: k.name for k in KEYS.values() if k.env}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in ENGINE_ENV:
            continue
        if name not in env_names:
            raise _unknown(name, list(env_names) + sorted(ENGINE_ENV), "environment variable")
        from_env[env_names[name]] = value
    layers.append(("env", from_env, lambda k: f"environment {KEYS[k].env_name}"))

    given = {k: v for k, v in flags.items() if v is not None and v != ()}
    for key in given:
        if key not in KEYS:
            raise _unknown(key, list(KEYS), "flag")
    layers.append(("flag", given, lambda k: KEYS[k].flag))

    settings = Settings(config_file=config_file)
    for _, values, where in layers:
        for key, raw in values.items():
            parsed = KEYS[key].parse(raw, where(key))
            if key == "conf":
                settings.conf.update(parsed)
                settings.sources.update({f"conf.{k}": where(key) for k in parsed})
            else:
                setattr(settings, key, parsed)
                settings.sources[key] = where(key)
    if settings.app_name is None:
        settings.app_name = job_name
        settings.sources["app_name"] = "the job file's name"
    return settings


def env_help() -> str:
    """One line per environment variable, for ``--help``."""
    return "\n".join(f"{k.env_name}: {k.help}" for k in KEYS.values() if k.env)
