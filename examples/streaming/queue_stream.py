"""A queue of RDDs taken one a second, each counted by its last digit, then a graceful stop.

Usage: queue_stream.py

A PySpark program: only the imports name dstream instead of pyspark.
"""

import time

from dstream import SparkContext
from dstream.streaming import StreamingContext

if __name__ == "__main__":
    sc = SparkContext(appName="QueueStream")
    ssc = StreamingContext(sc, 1)

    # five RDDs of the numbers 1 to 1000, one for each of the first five batches
    rdd_queue = [ssc.sparkContext.parallelize(list(range(1, 1001)), 10) for _ in range(5)]

    numbers = ssc.queueStream(rdd_queue)
    by_last_digit = numbers.map(lambda x: (x % 10, 1)).reduceByKey(lambda a, b: a + b)
    by_last_digit.pprint()

    ssc.start()
    time.sleep(6)
    ssc.stop(stopSparkContext=True, stopGraceFully=True)
