"""The happiest words of the lines a TCP server sends, every 5 seconds: each batch's word counts
joined with a static RDD of word sentiments (lines ``word score``, as the AFINN list has them).

Usage: network_wordjoinsentiments.py <hostname> <port> <sentiments file>

A typed PySpark program: only the imports name dstream instead of pyspark.
"""

import sys
from typing import Tuple

from dstream import RDD, SparkContext
from dstream.streaming import DStream, StreamingContext


def print_happiest_words(rdd: RDD[Tuple[float, str]]) -> None:
    top = rdd.take(5)
    print("Happiest words in the last 5 seconds (%d in all):" % rdd.count())
    for happiness, word in top:
        print("%s (%d happiness)" % (word, happiness))


def parse_sentiment(line: str) -> Tuple[str, str]:
    try:
        word, score = line.split(" ")
        return word, score
    except ValueError:
        return "", ""


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print("Usage: network_wordjoinsentiments.py <hostname> <port> <sentiments file>",
              file=sys.stderr)
        sys.exit(-1)
    sc = SparkContext(appName="NetworkWordJoinSentiments")
    ssc = StreamingContext(sc, 5)

    sentiments = ssc.sparkContext.textFile(sys.argv[3]).map(parse_sentiment)

    lines = ssc.socketTextStream(sys.argv[1], int(sys.argv[2]))
    word_counts = (lines.flatMap(lambda line: line.split(" "))
                   .map(lambda word: (word, 1))
                   .reduceByKey(lambda a, b: a + b))

    happiest: DStream[Tuple[float, str]] = (
        word_counts.transform(lambda rdd: sentiments.join(rdd))
        .map(lambda joined: (float(joined[1][0]) * joined[1][1], joined[0]))
        .transform(lambda rdd: rdd.sortByKey(False)))
    happiest.foreachRDD(print_happiest_words)

    ssc.start()
    ssc.awaitTermination()
