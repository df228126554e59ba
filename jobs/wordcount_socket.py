"""Windowed word count over text lines from a TCP socket.

    dstream run jobs/wordcount_socket.py -- --host 127.0.0.1 --port 9999
    dstream run jobs/wordcount_socket.py -- --demo      # with a bundled demo feed

Each batch logs the window's top words and writes them, with the running totals' top words,
to ``output/wordcount/<batch ms>.json``.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _wordcount import add_wordcount_arguments, start_demo_feed, wordcount  # noqa: E402

from dstream import StreamingContext  # noqa: E402

APP_NAME = "wordcount-socket"
MASTER = "local[2]"
BATCH_SECONDS = 1.0
CHECKPOINT = "checkpoints/wordcount-socket"
CONF = {"dstream.streaming.receiver.writeAheadLog.enable": True}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="the text server's host")
    parser.add_argument("--port", type=int, default=9999, help="the text server's port")
    parser.add_argument("--demo", action="store_true",
                        help="serve the bundled sample text on a local port and read that")
    parser.add_argument("--demo-rate", type=float, default=200.0, help="demo feed, lines/s")
    add_wordcount_arguments(parser)


def build(ssc: StreamingContext, args: argparse.Namespace) -> None:
    host, port = args.host, args.port
    if args.demo:
        host, port = "127.0.0.1", start_demo_feed(args.demo_rate)
    wordcount(ssc.socketTextStream(host, port), args)


if __name__ == "__main__":
    from dstream.service import run_standalone
    run_standalone(__file__)
