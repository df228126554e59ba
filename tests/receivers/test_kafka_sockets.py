"""A Kafka client's connection attempt that does not succeed leaves no socket open.

kafka-python 3.0.12 leaves it open when the broker refuses the connection and when the client
is closed while it connects; ``import_kafka`` makes it close the socket (see
``receivers/kafka_client.py``). No broker is needed: a refusing port and a listener that never
completes a handshake stand in for brokers that are down or unreachable.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import socket
import warnings
from collections.abc import Iterator

import psutil
import pytest

from dstream.receivers.kafka_client import import_kafka
from tests.waiting import until


@contextlib.contextmanager
def no_socket_dropped_unclosed() -> Iterator[None]:
    """Fail if a socket is dropped unclosed (in any thread) while the block runs.

    kafka-python's log records stay out of pytest's log capture meanwhile: the tracebacks
    they hold would keep such a socket alive past the check.
    """
    logger = logging.getLogger("kafka")
    propagate, logger.propagate = logger.propagate, False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            yield
            gc.collect()
    finally:
        logger.propagate = propagate
    unclosed = [str(w.message) for w in caught if "unclosed <socket" in str(w.message)]
    assert unclosed == []


@pytest.fixture
def refusing_port() -> int:
    """A local port nothing listens on: every connection to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local port whose listener never completes a new handshake: its accept queue is full,
    so Linux drops each new SYN and a connection attempt stays in SYN_SENT."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(2):   # one fills the queue; the second hangs, proving it is full
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    try:
        until(lambda: connecting_to(port) >= 1, "a filler connection is stuck in SYN_SENT", 10)
        yield port
    finally:
        for sock in (*fillers, listener):
            sock.close()


def connecting_to(port: int) -> int:
    """How many of this process's TCP sockets are still connecting to ``port``."""
    return sum(
        1
        for conn in psutil.Process().net_connections(kind="tcp")
        if conn.status == psutil.CONN_SYN_SENT and conn.raddr and conn.raddr[1] == port
    )


def test_refused_connections_close_their_sockets(refusing_port: int) -> None:
    kafka = import_kafka()
    with no_socket_dropped_unclosed():
        consumer = kafka.KafkaConsumer(
            bootstrap_servers=f"127.0.0.1:{refusing_port}",
            api_version=(2, 5),
            reconnect_backoff_ms=20,
            reconnect_backoff_max_ms=40,
        )
        try:
            consumer.subscribe(["t"])
            consumer.poll(timeout_ms=500)   # finding the group coordinator retries the connection
        finally:
            consumer.close()


def test_a_client_closed_while_connecting_closes_the_socket(silent_port: int) -> None:
    stuck_before = connecting_to(silent_port)
    kafka = import_kafka()
    with no_socket_dropped_unclosed():
        consumer = kafka.KafkaConsumer(
            bootstrap_servers=f"127.0.0.1:{silent_port}", api_version=(2, 5)
        )
        try:
            until(lambda: connecting_to(silent_port) > stuck_before, "the client is connecting", 10)
        finally:
            consumer.close()   # cancels the attempt
    assert connecting_to(silent_port) == stuck_before
