"""Running word counts of the lines a TCP server sends, kept as state across batches.

Usage: stateful_network_wordcount.py <hostname> <port>

The state is checkpointed to ``checkpoint/`` in the working directory. The counts start from
``hello`` and ``world`` seen once each. A PySpark program: only the imports name dstream.
"""

import sys
from typing import Iterable, Optional

from dstream import SparkContext
from dstream.streaming import StreamingContext

if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("Usage: stateful_network_wordcount.py <hostname> <port>", file=sys.stderr)
        sys.exit(-1)
    sc = SparkContext(appName="StatefulNetworkWordCount")
    ssc = StreamingContext(sc, 1)
    ssc.checkpoint("checkpoint")

    initial_counts = sc.parallelize([("hello", 1), ("world", 1)])

    def add_counts(new_values: Iterable[int], running: Optional[int]) -> int:
        return sum(new_values) + (running or 0)

    lines = ssc.socketTextStream(sys.argv[1], int(sys.argv[2]))
    running_counts = (lines.flatMap(lambda line: line.split(" "))
                      .map(lambda word: (word, 1))
                      .updateStateByKey(add_counts, initialRDD=initial_counts))
    running_counts.pprint()

    ssc.start()
    ssc.awaitTermination()
