"""Feeds words into Kafka for the compose demo: lines of jobs/data/sample.txt, shuffled, at
``--rate`` lines per second, until stopped (SIGTERM or SIGINT).

    python compose/producer.py --bootstrap-servers kafka:9092 --topic words --rate 50
"""

from __future__ import annotations

import argparse
import logging
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).resolve().parent.parent / "jobs" / "data" / "sample.txt"
log = logging.getLogger("producer")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="words")
    parser.add_argument("--rate", type=float, default=50.0, help="lines per second")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: unseeded)")
    args = parser.parse_args(argv)
    if args.rate <= 0:
        parser.error(f"--rate must be positive, got {args.rate}")
    return args


def connect(bootstrap: str, stop: threading.Event) -> Any:
    from kafka import KafkaProducer
    from kafka.errors import NoBrokersAvailable

    delay = 1.0
    while not stop.is_set():
        try:
            return KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks=1)
        except NoBrokersAvailable:
            log.warning("no broker at %s yet; retrying in %.0f s", bootstrap, delay)
            stop.wait(delay)
            delay = min(delay * 2, 30.0)
    return None


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    lines = [line.strip() for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(args.seed)
    producer = connect(args.bootstrap_servers, stop)
    if producer is None:
        return
    log.info("producing to %s at %s lines/s", args.topic, args.rate)
    sent, interval, next_at = 0, 1.0 / args.rate, time.monotonic()
    try:
        while not stop.is_set():
            producer.send(args.topic, rng.choice(lines).encode("utf-8"))
            sent += 1
            if sent % 1000 == 0:
                log.info("%d lines sent", sent)
            next_at += interval
            stop.wait(max(0.0, next_at - time.monotonic()))
    finally:
        producer.flush(10)
        producer.close(10)
        log.info("stopped after %d lines", sent)


if __name__ == "__main__":
    main()
