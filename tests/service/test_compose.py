"""compose/docker-compose.yml, checked without a Docker engine: it parses, its services are
the ones the issue names, and every command, file and port it refers to exists and agrees
with the CLI and the producer."""

from __future__ import annotations

import importlib.util
import re

import pytest
import yaml

from dstream.service.cli import main
from dstream.service.jobs import load_job
from dstream.service.settings import HttpAddress, load_settings

from .conftest import ROOT

COMPOSE = ROOT / "compose" / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def split_command(command: list[str]) -> tuple[list[str], list[str]]:
    """(daemon part, job arguments after --)."""
    if "--" in command:
        i = command.index("--")
        return command[:i], command[i + 1:]
    return command, []


def test_services_and_images(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"kafka", "redis", "producer", "dstream"}
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]      # KRaft
    assert "zookeeper" not in yaml.safe_dump(compose).lower()
    assert kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert services["redis"]["image"].startswith("redis:")
    for name, service in services.items():
        for dependency, how in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            if how["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], dependency


def test_images_build_from_the_repository(compose: dict) -> None:
    compose_dir = COMPOSE.parent
    for name in ("producer", "dstream"):
        build = compose["services"][name]["build"]
        context = (compose_dir / build["context"]).resolve()
        assert context == ROOT
        dockerfile = context / build["dockerfile"]
        assert dockerfile.is_file()
        ignore = dockerfile.with_name(dockerfile.name + ".dockerignore")
        assert ignore.is_file()
    text = dockerfile.read_text(encoding="utf-8")
    assert re.search(r"^WORKDIR /app$", text, re.M)
    for source in re.findall(r"^COPY (\S+) ", text, re.M):
        assert (ROOT / source).exists(), source
    install = re.search(r'^RUN pip install (?:-e )?"?\.(?:\[([\w,]+)\])?"?$', text, re.M)
    assert install, "the image installs the repository with pip"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for extra in (install.group(1) or "").split(",") if install.group(1) else []:
        assert re.search(rf"^{extra} = \[", pyproject, re.M), extra


def test_the_dstream_service_command(compose: dict) -> None:
    service = compose["services"]["dstream"]
    daemon, job_args = split_command(service["command"])
    assert daemon[:3] == ["dstream", "run", "jobs/wordcount_kafka.py"]
    # the options parse with the real CLI and validate as settings
    run = main.commands["run"]
    ctx = run.make_context("run", daemon[2:])
    flags = {k: v for k, v in ctx.params.items() if k not in ("job", "job_args", "show_config", "config")}
    settings = load_settings(flags=flags, env=service.get("environment", {}))
    assert settings.checkpoint == "redis://redis:6379/0?prefix=wordcount"
    assert settings.http == HttpAddress("0.0.0.0", 4040)          # every interface, inside
    assert settings.master == "local[2]"
    published = {p.rsplit(":", 1)[-1]: p for p in service["ports"]}
    assert str(settings.http.port) in published
    assert service["healthcheck"]["test"][-1].count(f":{settings.http.port}/healthz") == 1
    job = ROOT / daemon[2]
    if job.exists():
        load_job(job).parse_args(job_args)
    assert job_args[job_args.index("--bootstrap-servers") + 1] == "kafka:9092"
    assert job_args[job_args.index("--topic") + 1] == "words"


def test_the_producer_command(compose: dict) -> None:
    command = compose["services"]["producer"]["command"]
    assert command[0] == "python" and (ROOT / command[1]).is_file()
    spec = importlib.util.spec_from_file_location("compose_producer", ROOT / command[1])
    producer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(producer)           # kafka-python is imported only when it runs
    args = producer.parse_args(command[2:])
    dstream_args = split_command(compose["services"]["dstream"]["command"])[1]
    assert args.topic == dstream_args[dstream_args.index("--topic") + 1]
    assert args.bootstrap_servers == "kafka:9092" and args.rate > 0
    assert producer.SAMPLE.is_file()
