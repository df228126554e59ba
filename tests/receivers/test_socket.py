"""Socket receivers against a real TCP server on 127.0.0.1: counts, reconnects, bad input, stop."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from dstream.receivers import BlockIds, ReceiverSupervisor, SocketReceiver, SocketTextReceiver
from dstream.receivers.receiver import Receiver
from tests import servers
from tests.receivers.conftest import CollectingSink


class PeerServer:
    """A listening socket on 127.0.0.1 whose connections the test accepts and drives by hand."""

    def __init__(self, port: int = 0) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.listener.settimeout(10)

    def accept(self) -> socket.socket:
        connection, _ = self.listener.accept()
        return connection

    def send_and_close(self, payload: bytes) -> threading.Thread:
        """Accept the next connection, send ``payload`` from a thread, close it."""

        def run() -> None:
            with self.accept() as connection:
                connection.sendall(payload)

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def peer() -> Iterator[PeerServer]:
    server = PeerServer()
    try:
        yield server
    finally:
        server.close()


def supervise(receiver: Receiver, sink: CollectingSink) -> ReceiverSupervisor:
    supervisor = ReceiverSupervisor(
        receiver,
        0,
        sink,
        sink,
        block_interval_ms=20,
        restart_delay_s=0.05,
        max_restart_delay_s=0.2,
        block_ids=BlockIds(),
    )
    supervisor.start()
    return supervisor


def lines(prefix: str, count: int) -> list[str]:
    return [f"{prefix} line {i} ünïcode" for i in range(count)]


def payload(text_lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in text_lines).encode()


def test_every_line_arrives_in_order(sink: CollectingSink, peer: PeerServer) -> None:
    expected = lines("one", 200_000)
    sender = peer.send_and_close(payload(expected))
    supervisor = supervise(SocketTextReceiver("127.0.0.1", peer.port), sink)
    try:
        assert sink.wait_for_records(200_000, timeout=30) == expected
        sender.join(10)
    finally:
        assert supervisor.stop(graceful=True, timeout=10)
    assert supervisor.counters()["records_received"] == 200_000
    assert supervisor.bad_records == {}


def test_a_peer_that_goes_away_is_reconnected_and_both_connections_count(
    sink: CollectingSink, peer: PeerServer
) -> None:
    first, second = lines("first", 5_000), lines("second", 5_000)
    sender = peer.send_and_close(payload(first) + b"no newline at the end")
    receiver = SocketTextReceiver("127.0.0.1", peer.port)
    supervisor = supervise(receiver, sink)
    try:
        closed = sink.wait_for_event(
            "error", 10, lambda info: "closed the connection" in info["message"]
        )
        assert (
            closed.info["message"]
            == f"SocketTextReceiver-0: 127.0.0.1:{peer.port} closed the connection (no more data)"
        )
        sender.join(10)
        peer.send_and_close(payload(second)).join(
            10
        )  # the receiver connects again after its backoff
        records = sink.wait_for_records(10_001, timeout=20)
    finally:
        assert supervisor.stop(graceful=True, timeout=10)
    assert Counter(records) == Counter([*first, "no newline at the end", *second])
    assert receiver.connections >= 2 and supervisor.is_alive() is False


def test_a_peer_not_there_yet_is_retried_with_errors_reported(sink: CollectingSink) -> None:
    port = servers.free_port()
    supervisor = supervise(SocketTextReceiver("127.0.0.1", port), sink)
    try:
        sink.wait_until(lambda: len(sink.events_of("error")) >= 3, 10, "3 failed connects")
        error = sink.events_of("error")[0]
        assert error.info["message"] == f"SocketTextReceiver-0: cannot connect to 127.0.0.1:{port}"
        assert "ConnectionRefusedError" in error.info["error"]
        assert supervisor.is_alive()
        late = PeerServer(port)
        try:
            late.send_and_close(payload(["finally"])).join(10)
            assert sink.wait_for_records(1, timeout=10) == ["finally"]
        finally:
            late.close()
    finally:
        assert supervisor.stop(graceful=True, timeout=10)


@pytest.mark.parametrize(
    ("policy", "kept"),
    [
        ("replace", ["good 1", "caf\ufffd", "good 2", "good 3"]),
        ("strict", ["good 1", "good 2", "good 3"]),
    ],
)
def test_bad_input_is_counted_and_reported_and_the_stream_goes_on(
    sink: CollectingSink, peer: PeerServer, policy: str, kept: list[str]
) -> None:
    data = b"good 1\ncaf\xe9\ngood 2\n" + b"x" * 3000 + b"\ngood 3\n"
    sender = peer.send_and_close(data)
    receiver = SocketTextReceiver(
        "127.0.0.1", peer.port, decode_errors=policy, max_record_bytes=1024
    )
    supervisor = supervise(receiver, sink)
    try:
        assert sink.wait_for_records(len(kept), timeout=10) == kept
        sink.wait_until(lambda: len(sink.events_of("bad_record")) == 2, 10, "2 bad_record events")
        sender.join(10)
    finally:
        assert supervisor.stop(graceful=True, timeout=10)
    assert supervisor.bad_records == {"undecodable": 1, "oversized": 1}
    undecodable, oversized = sink.events_of("bad_record")
    assert (undecodable.info["reason"], undecodable.info["offset"], undecodable.info["action"]) == (
        "undecodable",
        7,
        "replaced" if policy == "replace" else "dropped",
    )
    assert undecodable.info["message"].startswith(
        "SocketTextReceiver-0: undecodable line at byte 7 of connection 1"
    )
    assert (oversized.info["reason"], oversized.info["offset"], oversized.info["action"]) == (
        "oversized",
        19,
        "dropped",
    )


def test_a_socket_receiver_with_a_converter(sink: CollectingSink, peer: PeerServer) -> None:
    def fixed_records(stream) -> Iterator[bytes]:  # 4-byte records
        while record := stream.read(4):
            yield record

    sender = peer.send_and_close(b"".join(b"%04d" % i for i in range(10_000)))
    supervisor = supervise(SocketReceiver("127.0.0.1", peer.port, fixed_records), sink)
    try:
        assert sink.wait_for_records(10_000, timeout=20) == [b"%04d" % i for i in range(10_000)]
        sender.join(10)
    finally:
        assert supervisor.stop(graceful=True, timeout=10)


def test_stop_wakes_a_read_blocked_on_a_silent_peer(sink: CollectingSink, peer: PeerServer) -> None:
    receiver = SocketTextReceiver("127.0.0.1", peer.port)
    supervisor = supervise(receiver, sink)
    with peer.accept() as connection:
        connection.sendall(b"hello\n")
        sink.wait_for_records(1, timeout=10)
        began = time.monotonic()
        assert supervisor.stop(graceful=True, timeout=10)
        assert time.monotonic() - began < 2
        assert connection.recv(10) == b""  # the receiver closed its end
    assert sink.events_of("error") == []
    assert sink.records() == ["hello"]


def test_under_a_rate_limit_reads_are_small_so_lines_flow_evenly(
    sink: CollectingSink, peer: PeerServer
) -> None:
    """One 256 KiB read would hold all 6,000 lines (~170 KB) behind the limiter at once and
    store them as one block; reads sized by the limit let them through a few at a time."""
    expected = lines("paced", 6_000)
    sender = peer.send_and_close(payload(expected))
    supervisor = ReceiverSupervisor(SocketTextReceiver("127.0.0.1", peer.port), 0, sink, sink,
                                    block_interval_ms=20, max_rate=5_000, block_ids=BlockIds())
    supervisor.start()
    try:
        assert sink.wait_for_records(6_000, timeout=30) == expected
        sender.join(10)
    finally:
        assert supervisor.stop(graceful=True, timeout=10)
    sizes = [len(block.records) for block in sink.blocks]
    # 100 lines per 20 ms block at 5,000 lines/s, plus the limiter's 50 ms burst (250); the
    # margin allows a block generator held up for a quarter of a second on a busy machine
    assert max(sizes) < 2_000, sizes
