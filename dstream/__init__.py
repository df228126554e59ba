"""dstream: micro-batch stream processing in Python, in the line of Spark Streaming.

A PySpark program ports by changing its imports:

>>> from dstream import Context
>>> with Context("local") as ctx:
...     ctx.parallelize(["a b", "b"]).flatMap(str.split).countByValue()["b"]
2
"""

from .accumulators import Accumulator, AccumulatorParam
from .broadcast import Broadcast
from .conf import Conf
from .context import Context
from .errors import (BlockLostError, ClosurePicklingError, DStreamError, InputDecodeError,
                     WorkerLostError)
from .hashing import portable_hash
from .partitioner import HashPartitioner, Partitioner, RangePartitioner
from .rdd import RDD
from .statcounter import StatCounter
from .storagelevel import StorageLevel
from .taskcontext import TaskContext
from .version import __version__ as __version__
from .streaming import (BatchInfo, DStream, ManualClock, State, StateSpec, StreamingContext,
                        StreamingListener)
from .streaming.kafka import Broker, KafkaUtils, OffsetRange, TopicAndPartition
from dstream.receivers import Receiver


SparkConf = Conf
SparkContext = Context

__all__ = [
    "Accumulator", "AccumulatorParam", "BlockLostError", "Broadcast", "ClosurePicklingError",
    "Conf", "Context",
    "DStreamError", "HashPartitioner", "InputDecodeError", "Partitioner", "RDD", "RangePartitioner",
    "SparkConf", "SparkContext", "StatCounter", "StorageLevel", "TaskContext", "WorkerLostError",
    "portable_hash", "BatchInfo", "DStream", "ManualClock", "State", "StateSpec", "StreamingContext",
    "StreamingListener", "KafkaUtils", "Receiver", "OffsetRange", "TopicAndPartition", "Broker",
]
