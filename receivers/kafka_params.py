"""Kafka client settings as PySpark users wrote them, turned into kafka-python's settings.

PySpark's ``kafkaParams`` used Kafka's own dotted names with string values
(``{"group.id": "g", "auto.offset.reset": "smallest", "session.timeout.ms": "6000"}``);
kafka-python takes underscored names with typed values (``session_timeout_ms=6000``).
:func:`consumer_config` and :func:`producer_config` accept both spellings and return
kafka-python's keyword arguments:

- a dotted name maps to kafka-python's name by replacing dots with underscores
  (``fetch.max.bytes`` -> ``fetch_max_bytes``), plus a few names of the old Kafka 0.8 API
  and of librdkafka (``metadata.broker.list``, ``ssl.ca.location``, ``sasl.username`` ...);
- string values become the type kafka-python needs (``"6000"`` -> ``6000``, ``"true"`` ->
  ``True``, ``"a:9092,b:9092"`` -> a list); ``auto.offset.reset`` takes Kafka 0.8's
  ``smallest``/``largest`` as well as ``earliest``/``latest``;
- settings of the removed ZooKeeper-based API (``zookeeper.connect`` ...) are accepted and
  logged once as not used;
- an unknown name, a value of the wrong type, or a Java-only setting (a JKS truststore, a JAAS
  line) is a ``ValueError`` naming the parameter and what to write instead.

>>> consumer_config({"group.id": "g", "auto.offset.reset": "smallest",
...                  "session.timeout.ms": "6000", "enable.auto.commit": "false"})
{'group_id': 'g', 'auto_offset_reset': 'earliest', 'session_timeout_ms': 6000, 'enable_auto_commit': False}
>>> consumer_config({"sesion.timeout.ms": "6000"})
Traceback (most recent call last):
...
ValueError: unknown Kafka parameter 'sesion.timeout.ms' (did you mean 'session.timeout.ms'?)
"""

from __future__ import annotations

import difflib
import logging
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["consumer_config", "producer_config", "ZOOKEEPER_PARAMS", "bootstrap_from_params",
           "receiver_params", "offset_reset", "looks_like_zookeeper"]

log = logging.getLogger(__name__)

#: Settings of the ZooKeeper-based consumer (Kafka 0.8) that the new clients have no use for.
ZOOKEEPER_PARAMS = frozenset({
    "zookeeper.connect",
    "zookeeper.connection.timeout.ms",
    "zookeeper.connectiontimeout.ms",
    "zookeeper.session.timeout.ms",
    "zookeeper.sync.time.ms",
})

# Names that do not follow the dots-to-underscores rule.
_ALIASES = {
    "metadata.broker.list": "bootstrap_servers",
    "ssl.key.password": "ssl_password",
    "ssl.ca.location": "ssl_cafile",
    "ssl.certificate.location": "ssl_certfile",
    "ssl.key.location": "ssl_keyfile",
    "ssl.crl.location": "ssl_crlfile",
    "ssl.cipher.suites": "ssl_ciphers",
    "ssl.endpoint.identification.algorithm": "ssl_check_hostname",
    "sasl.username": "sasl_plain_username",
    "sasl.password": "sasl_plain_password",
    "sasl.mechanisms": "sasl_mechanism",
}

# Java-only settings kafka-python cannot take, with what to write instead.
_UNSUPPORTED = {
    "ssl.truststore.location": "kafka-python reads PEM files: give ssl.ca.location "
                               "(kafka-python: ssl_cafile) instead of a Java truststore",
    "ssl.truststore.password": "kafka-python reads PEM files: give ssl.ca.location instead",
    "ssl.truststore.type": "kafka-python reads PEM files: give ssl.ca.location instead",
    "ssl.keystore.location": "kafka-python reads PEM files: give ssl.certificate.location and "
                             "ssl.key.location (ssl_certfile, ssl_keyfile) instead of a keystore",
    "ssl.keystore.password": "give ssl.key.password for the PEM key instead",
    "ssl.keystore.type": "kafka-python reads PEM files: give ssl.certificate.location instead",
    "sasl.jaas.config": "give sasl.username and sasl.password (sasl_plain_username, "
                        "sasl_plain_password) instead of a JAAS line",
    "key.deserializer": "Java deserializers do not apply: use keyDecoder",
    "value.deserializer": "Java deserializers do not apply: use valueDecoder",
    "key.serializer": "Java serializers do not apply: give bytes, or a Python key_serializer",
    "value.serializer": "Java serializers do not apply: give bytes, or a Python value_serializer",
}

_OFFSET_RESETS = {"earliest": "earliest", "smallest": "earliest",
                  "latest": "latest", "largest": "latest"}
_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_ISOLATION_LEVELS = ("read_uncommitted", "read_committed")
_SASL_MECHANISMS = ("PLAIN", "GSSAPI", "OAUTHBEARER", "SCRAM-SHA-256", "SCRAM-SHA-512")

_log_lock = threading.Lock()
_logged: set[str] = set()


def _kafka_defaults(kind: str) -> dict[str, Any]:
    # kafka-python 3.0 reads its protocol schemas with importlib.resources.read_text,
    # deprecated on Python 3.11/3.12: silence exactly those warnings for the import.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "read_text is deprecated", DeprecationWarning)
        warnings.filterwarnings("ignore", "open_text is deprecated", DeprecationWarning)
        import kafka
    client = kafka.KafkaConsumer if kind == "consumer" else kafka.KafkaProducer
    return dict(client.DEFAULT_CONFIG)


class _Invalid(ValueError):
    """A value that does not fit; the caller adds the parameter's name."""


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _Invalid("expected true or false")


def _to_int(value: object) -> int:
    if isinstance(value, bool):
        raise _Invalid("expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise _Invalid("expected an integer")


def _to_number(value: object) -> float | int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            pass
        else:
            return int(number) if number.is_integer() else number
    raise _Invalid("expected a number")


def _to_str(value: object) -> str:
    if isinstance(value, str):
        return value
    raise _Invalid("expected a string")


def _to_servers(value: object) -> str | list[str]:
    if isinstance(value, str):
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers:
            raise _Invalid("expected host:port[,host:port...]")
        return servers[0] if len(servers) == 1 else servers
    if isinstance(value, (list, tuple)) and value and all(isinstance(s, str) for s in value):
        return list(value)
    raise _Invalid("expected host:port[,host:port...]")


def _choice(choices: Mapping[str, str] | tuple[str, ...],
            normalise: Callable[[str], str] = str.lower) -> Callable[[object], str]:
    table = choices if isinstance(choices, Mapping) else {normalise(c): c for c in choices}

    def convert(value: object) -> str:
        if isinstance(value, str) and normalise(value.strip()) in table:
            return table[normalise(value.strip())]
        raise _Invalid(f"expected one of {', '.join(sorted(set(table)))}")
    return convert


def _to_version(value: object) -> tuple[int, ...]:
    if isinstance(value, tuple) and all(isinstance(p, int) for p in value):
        return value
    if isinstance(value, str):
        try:
            return tuple(int(p) for p in value.strip().split("."))
        except ValueError:
            pass
    raise _Invalid("expected a version such as 2.8.0")


def _to_hostname_check(value: object) -> bool:
    # Kafka's ssl.endpoint.identification.algorithm: "https" checks, "" does not
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("https", ""):
        return value.strip().lower() == "https"
    raise _Invalid("expected https or an empty string")


def _to_acks(value: object) -> int | str:
    if value in (0, 1, -1, "all"):
        return value
    if isinstance(value, str) and value.strip() in ("0", "1", "-1", "all"):
        text = value.strip()
        return "all" if text == "all" else int(text)
    raise _Invalid("expected 0, 1, -1 or all")


def _to_assignors(value: object) -> tuple[Any, ...]:
    if not isinstance(value, str):
        if isinstance(value, (list, tuple)) and value:
            return tuple(value)
        raise _Invalid("expected assignor names such as range or roundrobin")
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
    known = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor,
             "sticky": StickyPartitionAssignor}
    chosen = []
    for name in (n.strip() for n in value.split(",") if n.strip()):
        short = name.rsplit(".", 1)[-1].lower().replace("assignor", "").replace("partition", "")
        if short not in known:
            raise _Invalid("expected range, roundrobin or sticky (or Kafka's class names for them)")
        chosen.append(known[short])
    if not chosen:
        raise _Invalid("expected range, roundrobin or sticky")
    return tuple(chosen)


def _passthrough(value: object) -> object:
    if isinstance(value, str):
        raise _Invalid("expected a Python object, not a string")
    return value


# Converters by kafka-python name, where the default value's type does not say it.
_CONVERTERS: dict[str, Callable[[object], object]] = {
    "bootstrap_servers": _to_servers,
    "auto_offset_reset": _choice(_OFFSET_RESETS),
    "security_protocol": _choice(_SECURITY_PROTOCOLS, str.upper),
    "isolation_level": _choice(_ISOLATION_LEVELS),
    "sasl_mechanism": _choice(_SASL_MECHANISMS, str.upper),
    "api_version": _to_version,
    "acks": _to_acks,
    "retries": _to_number,
    "consumer_timeout_ms": _to_number,
    "partition_assignment_strategy": _to_assignors,
    "ssl_check_hostname": _to_hostname_check,
    "receive_buffer_bytes": _to_int,
    "send_buffer_bytes": _to_int,
    "compression_type": _choice(("gzip", "snappy", "lz4", "zstd", "none")),
}
_STRING_SETTINGS = {
    "group_id", "group_instance_id", "client_id", "client_rack", "transactional_id",
    "ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_crlfile", "ssl_password", "ssl_ciphers",
    "sasl_plain_username", "sasl_plain_password", "sasl_kerberos_name",
    "sasl_kerberos_service_name", "sasl_kerberos_domain_name", "proxy_url", "socks5_proxy",
}


def _converter(name: str, default: object) -> Callable[[object], object]:
    if name in _CONVERTERS:
        return _CONVERTERS[name]
    if name in _STRING_SETTINGS:
        return _to_str
    if isinstance(default, bool):
        return _to_bool
    if isinstance(default, int):
        return _to_int
    if isinstance(default, float):
        return _to_number
    if isinstance(default, str):
        return _to_str
    return _passthrough


def _log_once(key: str, message: str) -> None:
    with _log_lock:
        if key in _logged:
            return
        _logged.add(key)
    log.warning(message)


def _convert(params: Mapping[str, object] | None, kind: str) -> dict[str, Any]:
    if not params:
        return {}
    defaults = _kafka_defaults(kind)
    dotted_names = sorted({n.replace("_", ".") for n in defaults} | set(_ALIASES) | ZOOKEEPER_PARAMS)
    config: dict[str, Any] = {}
    for key, value in params.items():
        if not isinstance(key, str):
            raise TypeError(f"Kafka parameter names are strings, got {key!r}")
        if key in ZOOKEEPER_PARAMS:
            _log_once(key, f"Kafka parameter {key!r} belongs to the ZooKeeper-based consumer "
                           "Kafka removed; it is not used (brokers come from the bootstrap servers)")
            continue
        if key in _UNSUPPORTED:
            raise ValueError(f"Kafka parameter {key!r} is not supported: {_UNSUPPORTED[key]}")
        name = _ALIASES.get(key) or key.replace(".", "_")
        if name not in defaults:
            close = difflib.get_close_matches(key, dotted_names + sorted(defaults), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown Kafka parameter {key!r}{hint}")
        if name in config:
            raise ValueError(f"Kafka parameter {key!r} is given twice (under two spellings)")
        try:
            config[name] = _converter(name, defaults[name])(value)
        except _Invalid as exc:
            raise ValueError(f"Kafka parameter {key!r} has a bad value {value!r}: {exc}") from None
    return config


def consumer_config(params: Mapping[str, object] | None) -> dict[str, Any]:
    """kafka-python ``KafkaConsumer`` keyword arguments for ``params`` (either spelling).

    >>> consumer_config({"bootstrap.servers": "a:9092,b:9092", "max.poll.records": "100"})
    {'bootstrap_servers': ['a:9092', 'b:9092'], 'max_poll_records': 100}
    >>> consumer_config({"session_timeout_ms": "six seconds"})
    Traceback (most recent call last):
    ...
    ValueError: Kafka parameter 'session_timeout_ms' has a bad value 'six seconds': expected an integer
    """
    return _convert(params, "consumer")


def producer_config(params: Mapping[str, object] | None) -> dict[str, Any]:
    """kafka-python ``KafkaProducer`` keyword arguments for ``params`` (either spelling).

    >>> producer_config({"acks": "all", "linger.ms": "5", "transactional.id": "job-1"})
    {'acks': 'all', 'linger_ms': 5, 'transactional_id': 'job-1'}
    """
    return _convert(params, "producer")


def bootstrap_from_params(params: Mapping[str, object] | None) -> str | list[str] | None:
    """The brokers named in ``params`` (``bootstrap.servers``, ``metadata.broker.list`` or
    ``bootstrap_servers``), or None.

    >>> bootstrap_from_params({"metadata.broker.list": "k1:9092,k2:9092"})
    ['k1:9092', 'k2:9092']
    >>> bootstrap_from_params({"group.id": "g"}) is None
    True
    """
    for key in ("bootstrap.servers", "metadata.broker.list", "bootstrap_servers"):
        if params and key in params:
            try:
                return _to_servers(params[key])
            except _Invalid as exc:
                raise ValueError(f"Kafka parameter {key!r} has a bad value "
                                 f"{params[key]!r}: {exc}") from None
    return None


# Chosen by the Kafka receiver; its kafka_params may not change them (kafka-python names).
_RESERVED = {
    "enable_auto_commit": "the receiver commits offsets itself, after each block is stored",
    "key_deserializer": "use decoder=, which receives the raw key and value",
    "value_deserializer": "use decoder=, which receives the raw key and value",
}
_FILES = ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_crlfile")


def receiver_params(
    kafka_params: Mapping[str, Any] | None, bootstrap_servers: str | list[str], group_id: str
) -> dict[str, Any]:
    """The Kafka receiver's ``kafka_params`` (either spelling) as kafka-python settings, checked
    against its arguments and the settings it owns; every error names the parameter as written.
    ``group.id`` and the brokers may be repeated in ``params`` only with the same value.

    >>> receiver_params({"group.id": "g", "session.timeout.ms": "6000"}, "k:9092", "g")
    {'session_timeout_ms': 6000}
    >>> receiver_params({"enable.auto.commit": "true"}, "k:9092", "g")
    Traceback (most recent call last):
    ...
    ValueError: kafka_params may not set 'enable.auto.commit': the receiver commits offsets itself, after each block is stored
    """
    params: dict[str, Any] = {}
    written: dict[str, str] = {}
    for key, value in (kafka_params or {}).items():
        converted = consumer_config({key: value})  # ValueError naming the key when it is bad
        for name, setting in converted.items():
            if name in params:
                raise ValueError(
                    f"Kafka parameter {key!r} is given twice (also as {written[name]!r})"
                )
            params[name], written[name] = setting, key
    for name, why in _RESERVED.items():
        if name in params and not (name == "enable_auto_commit" and params[name] is False):
            raise ValueError(f"kafka_params may not set {written[name]!r}: {why}")
    params.pop("enable_auto_commit", None)
    if "group_id" in params:
        if params["group_id"] != group_id:
            raise ValueError(
                f"Kafka parameter {written['group_id']!r} is {params['group_id']!r} but the group "
                f"id argument is {group_id!r}: give the group once"
            )
        del params["group_id"]
    if "bootstrap_servers" in params:
        given = params.pop("bootstrap_servers")
        as_list = [given] if isinstance(given, str) else list(given)
        wanted = [bootstrap_servers] if isinstance(bootstrap_servers, str) else list(bootstrap_servers)
        if sorted(as_list) != sorted(wanted):
            raise ValueError(
                f"Kafka parameter {written['bootstrap_servers']!r} names brokers {given!r} but the "
                f"bootstrap servers argument is {bootstrap_servers!r}: give the brokers once"
            )
    for name in _FILES:
        if name in params and not os.path.isfile(params[name]):
            raise ValueError(
                f"Kafka parameter {written[name]!r} names {params[name]!r}, which is not a file"
            )
    session = params.get("session_timeout_ms", 45_000)
    heartbeat = params.get("heartbeat_interval_ms", 3_000)
    if heartbeat >= session:
        raise ValueError(
            f"Kafka parameter {written.get('heartbeat_interval_ms', 'heartbeat.interval.ms')!r} "
            f"({heartbeat} ms) must be below {written.get('session_timeout_ms', 'session.timeout.ms')!r} "
            f"({session} ms); a third of it is usual"
        )
    return params


def offset_reset(argument: str | None, param: str | None) -> str:
    """Where a new group starts: ``argument`` or the converted ``auto.offset.reset``
    (``param``); they must agree. Neither: ``latest``, as Spark's receiver (``largest``).

    >>> offset_reset(None, None), offset_reset("smallest", None), offset_reset(None, "earliest")
    ('latest', 'earliest', 'earliest')
    """
    names = {"earliest": "earliest", "smallest": "earliest", "latest": "latest", "largest": "latest"}
    chosen = None
    if argument is not None:
        if argument not in names:
            raise ValueError(
                f"auto_offset_reset must be 'earliest' ('smallest') or 'latest' ('largest'), "
                f"got {argument!r}"
            )
        chosen = names[argument]
    if param is not None and chosen is not None and param != chosen:
        raise ValueError(
            f"auto_offset_reset={argument!r} disagrees with Kafka parameter auto.offset.reset "
            f"({param!r}): give it once"
        )
    return chosen or param or "latest"


def looks_like_zookeeper(address: str | list[str], params: Mapping[str, object] | None = None) -> bool:
    """True when ``address`` (the Kafka 0.8 API's first argument) is a ZooKeeper quorum rather
    than brokers: port 2181, a ``host:port/chroot`` path, or the ``zookeeper.connect`` of ``params``.

    >>> looks_like_zookeeper("localhost:2181"), looks_like_zookeeper("zk1:2222,zk2:2222/kafka")
    (True, True)
    >>> looks_like_zookeeper("k1:9092,k2:9092")
    False
    >>> looks_like_zookeeper("zk:3000", {"zookeeper.connect": "zk:3000"})
    True
    """
    hosts = address.split(",") if isinstance(address, str) else list(address)
    hosts = [h.strip() for h in hosts if isinstance(h, str) and h.strip()]
    if any("/" in h or h.rpartition(":")[2] == "2181" for h in hosts):
        return True
    zookeeper = (params or {}).get("zookeeper.connect")
    if isinstance(zookeeper, str) and zookeeper.strip():
        quorum = {h.strip() for h in zookeeper.split("/")[0].split(",") if h.strip()}
        return bool(hosts) and set(hosts) <= quorum
    return False
