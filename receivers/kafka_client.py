"""kafka-python for the Kafka receiver, the direct stream and the Kafka sink: importing it (with
the sockets of failed connection attempts closed), opening clients, and telling a configuration
error (which can never pass) from a transient fault (which may).

A transient fault (brokers unreachable, a connection reset, a coordinator moving) is a
:class:`KafkaReceiverError`: the receiver restarts with backoff. A configuration error
(authentication refused, access denied, a setting kafka-python rejects, a topic that does
not exist while nothing will create it) is a :class:`KafkaReceiverConfigError`: the
receiver stops for good and the engine stops its context with it.

>>> is_configuration_error(KafkaReceiverConfigError("bad setting"))
True
>>> is_configuration_error(TimeoutError()), is_configuration_error(UnicodeDecodeError("utf-8", b"", 0, 1, "x"))
(False, False)
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any

__all__ = [
    "KafkaReceiverConfigError",
    "KafkaReceiverError",
    "import_kafka",
    "is_configuration_error",
    "open_client",
    "watch_refusals",
]


class KafkaReceiverError(ConnectionError):
    """The Kafka source cannot be read now: brokers unreachable, commit impossible (transient)."""


class KafkaReceiverConfigError(ValueError):
    """The Kafka receiver's configuration can never work: authentication refused, access
    denied, a setting kafka-python rejects, a missing topic nothing will create."""


# kafka-python errors that no retry can cure (by class name: the module is imported lazily)
_FATAL_KAFKA_ERRORS = frozenset({
    "KafkaConfigurationError",
    "SaslAuthenticationFailedError",
    "AuthenticationFailedError",
    "UnsupportedSaslMechanismError",
    "IllegalSaslStateError",
    "TopicAuthorizationFailedError",
    "GroupAuthorizationFailedError",
    "ClusterAuthorizationFailedError",
    "InvalidGroupIdError",
    "InvalidTopicError",
    "UnsupportedVersionError",
    "IncompatibleBrokerVersion",
})


_patch_lock = threading.Lock()


def is_configuration_error(exc: BaseException | None) -> bool:
    """True when ``exc`` (or an exception it was raised from) is a configuration error: a
    :class:`KafkaReceiverConfigError`, or one of kafka-python's authentication, authorization
    and configuration errors.

    >>> is_configuration_error(KafkaReceiverConfigError("topic 'x' does not exist"))
    True
    >>> is_configuration_error(ConnectionResetError())
    False
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        names = {cls.__name__ for cls in type(exc).__mro__}
        if names & _FATAL_KAFKA_ERRORS or isinstance(exc, KafkaReceiverConfigError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def import_kafka() -> ModuleType:
    """The ``kafka`` package (kafka-python), with its errors and structs loaded."""
    # kafka-python 3.0 reads its protocol schemas with importlib.resources.read_text,
    # deprecated on Python 3.11/3.12: silence exactly those warnings for the import.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "read_text is deprecated", DeprecationWarning)
        warnings.filterwarnings("ignore", "open_text is deprecated", DeprecationWarning)
        import kafka
        import kafka.errors
        import kafka.structs
    _close_sockets_of_failed_connects()
    module: ModuleType = kafka   # (kafka-python has no type hints)
    return module


def _close_sockets_of_failed_connects() -> None:
    """Make kafka-python close the socket of a connection attempt that does not succeed.

    kafka-python 3.0.12 (``kafka.net.inet.KafkaNetSocket.sock_connect``) leaves the socket
    open when the broker refuses the connection, and when its client is closed while the
    connection is still being made (the attempt is cancelled). The socket then waits for the
    garbage collector: one file descriptor per retry for as long as a broker is down, since
    the logged error's traceback holds it. This wraps ``sock_connect`` once per process so
    that any failure or cancellation closes the socket; a connected socket is returned as
    before. kafka-python 2.x, which has no ``kafka.net``, is left alone.
    """
    try:
        from kafka.net.inet import KafkaNetSocket
    except ImportError:
        return
    with _patch_lock:
        connect = KafkaNetSocket.sock_connect
        if getattr(connect, "closes_on_failure", False):
            return

        async def sock_connect(
            self: Any, net: Any, sock: Any, sockaddr: Any, timeout_at: Any = None
        ) -> Any:
            try:
                return await connect(self, net, sock, sockaddr, timeout_at=timeout_at)
            except BaseException:     # refused, timed out, or cancelled (GeneratorExit)
                sock.close()
                raise

        sock_connect.closes_on_failure = True  # type: ignore[attr-defined]
        KafkaNetSocket.sock_connect = sock_connect


def open_client(factory: type[Any], **config: Any) -> Any:
    """``factory(**config)`` (a KafkaConsumer or KafkaProducer), leaving nothing running on failure.

    kafka-python 3.0 starts a client's network I/O thread before it
    bootstraps; when the bootstrap fails (broker unreachable) the constructor
    raises and that thread runs on. The ``kafka_client`` setting (kafka-python's
    hook for making that network client) lets us keep hold of it and close it.
    """
    make = config.pop("kafka_client", None) or factory.DEFAULT_CONFIG["kafka_client"]
    created: list[Any] = []

    def kafka_client(*args: Any, **kwargs: Any) -> Any:
        client = make(*args, **kwargs)
        created.append(client)
        return client

    try:
        return factory(kafka_client=kafka_client, **config)
    except BaseException:
        for client in created:
            client.close()
        raise


class _RefusalWatch(logging.Handler):
    """Keeps the first configuration error kafka-python logs from one client's I/O thread."""

    def __init__(self, thread_name: str) -> None:
        super().__init__(logging.DEBUG)
        self.thread_name = thread_name
        self.refusal: BaseException | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.refusal is not None or record.threadName != self.thread_name:
            return
        args = record.args if isinstance(record.args, tuple) else ()
        for arg in args:
            if isinstance(arg, BaseException) and is_configuration_error(arg):
                self.refusal = arg
                return


@contextlib.contextmanager
def watch_refusals(client_id: str) -> Iterator[_RefusalWatch]:
    """While a client with ``client_id`` bootstraps, keep the configuration error (e.g.
    ``SaslAuthenticationFailedError``) its I/O thread logs: kafka-python retries a refused
    bootstrap connection until its timeout and then raises only ``KafkaTimeoutError``.

    >>> with watch_refusals("demo") as watch:
    ...     pass
    >>> watch.refusal is None
    True
    """
    watch = _RefusalWatch(f"kafka-io-{client_id}")
    logger = logging.getLogger("kafka")
    logger.addHandler(watch)
    try:
        yield watch
    finally:
        logger.removeHandler(watch)
