"""Windowed word count over the text files that appear in a directory.

    dstream run jobs/wordcount_files.py -- --directory incoming/

Write each file elsewhere and move it into the directory (a rename), so it appears whole;
each file is read once, also across restarts.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _wordcount import add_wordcount_arguments, wordcount  # noqa: E402

from dstream import StreamingContext  # noqa: E402

APP_NAME = "wordcount-files"
MASTER = "local[2]"
BATCH_SECONDS = 2.0
CHECKPOINT = "checkpoints/wordcount-files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--directory", default="incoming", help="directory to watch for new files")
    add_wordcount_arguments(parser)


def build(ssc: StreamingContext, args: argparse.Namespace) -> None:
    os.makedirs(args.directory, exist_ok=True)
    wordcount(ssc.textFileStream(args.directory), args)


if __name__ == "__main__":
    from dstream.service import run_standalone
    run_standalone(__file__)
