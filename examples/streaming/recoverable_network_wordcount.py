"""Word counts of the lines a TCP server sends, every second, in a job that recovers from its
checkpoint after a crash: ``StreamingContext.getOrCreate`` builds the context the first time
and recovers it from ``<checkpoint-directory>`` on later starts.

Usage: recoverable_network_wordcount.py <hostname> <port> <checkpoint-directory> <output-file>

Each batch's counts are printed and appended to ``<output-file>``, without the words of a
blacklist (a broadcast variable); the dropped words are counted in an accumulator. Neither
can be recovered from a checkpoint, so both are singletons created lazily from
``rdd.context`` in the output function, after a start as after a recovery.

Try it with ``nc -lk 9999`` and ``python recoverable_network_wordcount.py localhost 9999
checkpoint/ out.txt``; stop it (Ctrl-C or ``kill -9``) and start it again.

A PySpark program with its imports changed and one deliberate departure: dstream recovers by
calling the setup function again (recovery mode ``rebuild``, the default; see "Recovery
modes" in docs/guarantees.md), so ``createContext`` deletes the previous run's output file only when
``StreamingContext.isRecovering()`` is False; PySpark's program deletes it unguarded, since
PySpark does not call it at recovery. "Creating new context" is thus printed at a recovery
too. ``recoverable_network_wordcount_restore.py`` keeps PySpark's behaviour instead.
"""

import os
import sys

from dstream import SparkContext
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
    # Printed whenever the setup function runs: on a fresh start, and (dstream's rebuild
    # mode) when the context is recovered from the checkpoint
    print("Creating new context")
    if not StreamingContext.isRecovering():     # dstream: keep the output of the run recovered
        if os.path.exists(outputPath):
            os.remove(outputPath)
    sc = SparkContext(appName="PythonStreamingRecoverableNetworkWordCount")
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
        print("Usage: recoverable_network_wordcount.py <hostname> <port> "
              "<checkpoint-directory> <output-file>", file=sys.stderr)
        sys.exit(-1)
    host, port, checkpoint, output = sys.argv[1:]
    ssc = StreamingContext.getOrCreate(checkpoint,
                                       lambda: createContext(host, int(port), output))
    ssc.start()
    ssc.awaitTermination()
