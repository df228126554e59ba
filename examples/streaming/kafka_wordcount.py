r"""Word counts of the '\n'-delimited UTF-8 lines a Kafka topic receives, every second, read
by a receiver (``KafkaUtils.createStream``) as a member of consumer group
``spark-streaming-consumer``.

Usage: kafka_wordcount.py <brokers> <topic>

``<brokers>`` is the Kafka bootstrap servers (``localhost:9092``). PySpark's program took a
ZooKeeper quorum there (``localhost:2181``), which the Kafka 0.8 consumer it used connected
to; today's Kafka clients talk to the brokers only, so the same argument names them. Try it
with a topic ``test`` and ``kafka-console-producer.sh --bootstrap-server localhost:9092
--topic test``, then ``python kafka_wordcount.py localhost:9092 test``.

PySpark's program with only its imports changed (and the usage line naming the brokers).
"""

import sys

from dstream import SparkContext
from dstream.streaming import StreamingContext
from dstream.streaming.kafka import KafkaUtils

if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("Usage: kafka_wordcount.py <brokers> <topic>", file=sys.stderr)
        sys.exit(-1)

    sc = SparkContext(appName="PythonStreamingKafkaWordCount")
    ssc = StreamingContext(sc, 1)

    zkQuorum, topic = sys.argv[1:]
    kvs = KafkaUtils.createStream(ssc, zkQuorum, "spark-streaming-consumer", {topic: 1})
    lines = kvs.map(lambda x: x[1])
    counts = (lines.flatMap(lambda line: line.split(" "))
              .map(lambda word: (word, 1))
              .reduceByKey(lambda a, b: a + b))
    counts.pprint()

    ssc.start()
    ssc.awaitTermination()
