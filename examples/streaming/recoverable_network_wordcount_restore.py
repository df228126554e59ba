"""The recoverable network word count with PySpark's recovery: at a restart from
``<checkpoint-directory>`` the graph saved at the first start runs again and the setup
function is not called, so its side effect (deleting the output file) runs only on a fresh
start, unguarded, as in PySpark.

Usage: recoverable_network_wordcount_restore.py <hostname> <port> <checkpoint-directory> <output-file>

Each batch's counts are printed and appended to ``<output-file>``, without the words of a
blacklist (a broadcast variable); the dropped words are counted in an accumulator. Neither
is saved in the checkpoint, so both are singletons created lazily from ``rdd.context`` in the
output function, after a start as after a recovery.

PySpark's program with its imports changed and one line added: the ``SparkConf`` that sets
``dstream.streaming.recovery.mode=restore`` (PySpark would get its settings from
``spark-submit --conf``; a dstream program sets them in its conf). The code is saved with
the checkpoint, so a changed program needs a new checkpoint directory; see "Recovery modes" in
docs/guarantees.md, and ``recoverable_network_wordcount.py`` for the default mode.
"""

import os
import sys

from dstream import SparkConf, SparkContext
from dstream.streaming import StreamingContext


# Get or register a Broadcast variable
def getWordBlacklist(sparkContext):
    if "wordBlacklist" not in globals():
        globals()["wordBlacklist"] = sparkContext.broadcast(["a", "b", "c"])
    return globals()["wordBlacklist"]


# Get or register an Accumulator
def getDroppedWordsCounter(sparkContext):
    if "droppedWordsCounter" not in globals():
        globals()["droppedWordsCounter"] = sparkContext.accumulator(0)
    return globals()["droppedWordsCounter"]


def createContext(host, port, outputPath):
    # If you do not see this printed, the StreamingContext was recovered from the checkpoint
    print("Creating new context")
    if os.path.exists(outputPath):
        os.remove(outputPath)
    conf = SparkConf().set("dstream.streaming.recovery.mode", "restore")   # dstream
    sc = SparkContext(appName="PythonStreamingRecoverableNetworkWordCount", conf=conf)
    ssc = StreamingContext(sc, 1)

    # the words of the '\n'-delimited lines the server at host:port sends (as 'nc' does)
    lines = ssc.socketTextStream(host, port)
    words = lines.flatMap(lambda line: line.split(" "))
    wordCounts = words.map(lambda x: (x, 1)).reduceByKey(lambda x, y: x + y)

    def echo(time, rdd):
        # the blacklist broadcast and the dropped-words accumulator, made at their first use
        blacklist = getWordBlacklist(rdd.context)
        droppedWordsCounter = getDroppedWordsCounter(rdd.context)

        # drop the blacklisted words, counting them
        def filterFunc(wordCount):
            if wordCount[0] in blacklist.value:
                droppedWordsCounter.add(wordCount[1])
                return False
            else:
                return True

        counts = "Counts at time %s %s" % (time, rdd.filter(filterFunc).collect())
        print(counts)
        print("Dropped %d word(s) totally" % droppedWordsCounter.value)
        print("Appending to " + os.path.abspath(outputPath))
        with open(outputPath, "a") as f:
            f.write(counts + "\n")

    wordCounts.foreachRDD(echo)
    return ssc


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print("Usage: recoverable_network_wordcount_restore.py <hostname> <port> "
              "<checkpoint-directory> <output-file>", file=sys.stderr)
        sys.exit(-1)
    host, port, checkpoint, output = sys.argv[1:]
    ssc = StreamingContext.getOrCreate(checkpoint,
                                       lambda: createContext(host, int(port), output))
    ssc.start()
    ssc.awaitTermination()
