"""Word counts of the lines a TCP server sends, printed every second.

Usage: network_wordcount.py <hostname> <port>

Try it with a line server such as ``nc -lk 9999`` and ``python network_wordcount.py localhost 9999``.
A PySpark program: only the imports name dstream instead of pyspark.
"""

import sys

from dstream import SparkContext
from dstream.streaming import StreamingContext

if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("Usage: network_wordcount.py <hostname> <port>", file=sys.stderr)
        sys.exit(-1)
    sc = SparkContext(appName="NetworkWordCount")
    ssc = StreamingContext(sc, 1)

    lines = ssc.socketTextStream(sys.argv[1], int(sys.argv[2]))
    counts = (lines.flatMap(lambda line: line.split(" "))
              .map(lambda word: (word, 1))
              .reduceByKey(lambda a, b: a + b))
    counts.pprint()

    ssc.start()
    ssc.awaitTermination()
