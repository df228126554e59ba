"""Word counts of the text files that appear in a directory, every second.

Usage: hdfs_wordcount.py <directory>

Files must appear whole (write them elsewhere, then move them in); each is read once, in the
batch after it appears. A PySpark program: only the imports name dstream instead of pyspark.
"""

import sys

from dstream import SparkContext
from dstream.streaming import StreamingContext

if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("Usage: hdfs_wordcount.py <directory>", file=sys.stderr)
        sys.exit(-1)
    sc = SparkContext(appName="HdfsWordCount")
    ssc = StreamingContext(sc, 1)

    lines = ssc.textFileStream(sys.argv[1])
    counts = (lines.flatMap(lambda line: line.split(" "))
              .map(lambda word: (word, 1))
              .reduceByKey(lambda a, b: a + b))
    counts.pprint()

    ssc.start()
    ssc.awaitTermination()
