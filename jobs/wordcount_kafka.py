"""Windowed word count over a Kafka topic (values are text lines).

    dstream run jobs/wordcount_kafka.py --checkpoint redis://127.0.0.1:6379/0?prefix=wordcount \\
        --conf dstream.checkpoint.key=SECRET -- --bootstrap-servers 127.0.0.1:9092 --topic words

Received blocks are written ahead to the log before their offsets are committed, so a crash
loses nothing; after a restart the receiver skips what the log already holds.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _wordcount import add_wordcount_arguments, wordcount  # noqa: E402

from dstream import KafkaUtils, StreamingContext  # noqa: E402

APP_NAME = "wordcount-kafka"
MASTER = "local[2]"
BATCH_SECONDS = 1.0
CHECKPOINT = "checkpoints/wordcount-kafka"
CONF = {"dstream.streaming.receiver.writeAheadLog.enable": True}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092", help="Kafka brokers")
    parser.add_argument("--topic", default="words", help="topic of text lines")
    parser.add_argument("--group-id", default="wordcount", help="consumer group")
    parser.add_argument("--session-timeout-ms", type=int, default=10_000)
    parser.add_argument("--auto-offset-reset", default="smallest",
                        choices=["smallest", "largest", "earliest", "latest"],
                        help="where a new consumer group starts (Spark's receiver: largest)")
    add_wordcount_arguments(parser)


def build(ssc: StreamingContext, args: argparse.Namespace) -> None:
    records = KafkaUtils.createStream(
        ssc, args.bootstrap_servers, args.group_id, [args.topic],
        {"session.timeout.ms": str(args.session_timeout_ms),
         "heartbeat.interval.ms": str(max(1000, args.session_timeout_ms // 3)),
         "auto.offset.reset": args.auto_offset_reset})
    wordcount(records.map(lambda kv: kv[1]), args)


if __name__ == "__main__":
    from dstream.service import run_standalone
    run_standalone(__file__)
