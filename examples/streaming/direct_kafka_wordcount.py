r"""Word counts of the '\n'-delimited UTF-8 lines a Kafka topic receives, every 2 seconds,
read directly (``KafkaUtils.createDirectStream``, no receiver): each batch reads the offset
range the driver planned for it, starting at the topic's end when the program starts.

Usage: direct_kafka_wordcount.py <broker_list> <topic>

Try it with a topic ``test`` and ``kafka-console-producer.sh --bootstrap-server localhost:9092
--topic test``, then ``python direct_kafka_wordcount.py localhost:9092 test``.

A PySpark program: only the imports name dstream instead of pyspark.
"""

import sys

from dstream import SparkContext
from dstream.streaming import StreamingContext
from dstream.streaming.kafka import KafkaUtils

if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("Usage: direct_kafka_wordcount.py <broker_list> <topic>", file=sys.stderr)
        sys.exit(-1)

    sc = SparkContext(appName="PythonStreamingDirectKafkaWordCount")
    ssc = StreamingContext(sc, 2)

    brokers, topic = sys.argv[1:]
    kvs = KafkaUtils.createDirectStream(ssc, [topic], {"metadata.broker.list": brokers})
    lines = kvs.map(lambda x: x[1])
    counts = (lines.flatMap(lambda line: line.split(" "))
              .map(lambda word: (word, 1))
              .reduceByKey(lambda a, b: a + b))
    counts.pprint()

    ssc.start()
    ssc.awaitTermination()
