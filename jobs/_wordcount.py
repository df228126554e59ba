"""The windowed word count the jobs in this folder share, and a demo feed.

``wordcount(lines, args)`` turns a stream of text lines into: a sliding window of word counts
(``reduceByKeyAndWindow`` with an inverse function), running totals (``updateStateByKey``),
and, every batch, the top words of both, logged and written to ``<output>/<batch ms>.json``
(replaced whole, so a batch re-run after a crash rewrites its own file).

Job files import it from this folder; it registers itself with cloudpickle so that its
functions travel to worker processes by value (workers do not have this folder on their path).
"""

from __future__ import annotations

import argparse
import json
import logging
import operator
import os
import socket
import sys
import threading
import time
from typing import Any

import cloudpickle

cloudpickle.register_pickle_by_value(sys.modules[__name__])

HERE = os.path.dirname(os.path.abspath(__file__))
log = logging.getLogger("jobs.wordcount")


def add_wordcount_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window", type=float, default=30.0, help="window length, seconds")
    parser.add_argument("--slide", type=float, default=None, help="window slide (default: the batch)")
    parser.add_argument("--top", type=int, default=10, help="how many top words to report")
    parser.add_argument("--output", default="output/wordcount", help="directory of per-batch results")


def wordcount(lines: Any, args: argparse.Namespace) -> None:
    """Build the word-count graph over ``lines`` (a DStream of text)."""
    pairs = lines.flatMap(str.split).map(lambda w: (w, 1))
    window = pairs.reduceByKeyAndWindow(operator.add, operator.sub, args.window, args.slide,
                                        filterFunc=lambda kv: kv[1] > 0).setName("window-counts")
    totals = pairs.updateStateByKey(lambda new, old: sum(new) + (old or 0)).setName("running-totals")
    top, out_dir = args.top, args.output
    window_top: list[tuple[str, int]] = []      # outputs of one batch run in order, on the driver

    def report_window(time: Any, rdd: Any) -> None:
        window_top[:] = rdd.takeOrdered(top, key=_by_count)
        log.info("%s  window top: %s", time, ", ".join(f"{w}={c}" for w, c in window_top) or "-")

    def report_totals(time: Any, rdd: Any) -> None:
        write_result(out_dir, time, list(window_top), rdd.takeOrdered(top, key=_by_count))

    window.foreachRDD(report_window)
    totals.foreachRDD(report_totals)


def _by_count(kv: tuple[str, int]) -> tuple[int, str]:
    return (-kv[1], kv[0])


def write_result(out_dir: str, time: Any, window_top: list, totals_top: list) -> None:
    os.makedirs(out_dir, exist_ok=True)
    ms = int(time.timestamp() * 1000)
    path = os.path.join(out_dir, f"{ms:015d}.json")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"batch_time": str(time), "window_top": window_top, "totals_top": totals_top}, f)
    os.replace(tmp, path)


def start_demo_feed(rate: float) -> int:
    """A TCP server on a free 127.0.0.1 port sending ``data/sample.txt`` in a loop at ``rate``
    lines/s to whoever connects; returns the port. For trying the socket job out."""
    with open(os.path.join(HERE, "data", "sample.txt"), encoding="utf-8") as f:
        text = [line.strip() for line in f if line.strip()]
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve(conn: socket.socket) -> None:
        with conn:
            i, started = 0, time.monotonic()
            try:
                while True:
                    due = int((time.monotonic() - started) * rate)
                    if due > i:
                        chunk = "".join(text[j % len(text)] + "\n" for j in range(i, due))
                        conn.sendall(chunk.encode())
                        i = due
                    time.sleep(0.02)
            except OSError:
                return

    def accept() -> None:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True, name="demo-feed").start()

    threading.Thread(target=accept, daemon=True, name="demo-feed-accept").start()
    log.info("demo feed: %s lines/s of data/sample.txt on 127.0.0.1:%d", rate, port)
    return port
