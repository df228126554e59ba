"""Output sinks whose writes survive a crash and a re-run of the batch without being doubled:
text files renamed into place, a transactional Kafka producer, Redis transactions with a
"last batch written" marker. ``DStream.saveAsTextFiles``, ``saveToKafka`` and ``saveToRedis``
are thin methods over them.
"""

from .batch_offsets import BatchOffsets, kafka_offsets_of_batch
from .kafka_sink import KafkaSink
from .redis_sink import RedisSink
from .text_files import save_batch_as_text_files

__all__ = ["BatchOffsets", "KafkaSink", "RedisSink", "kafka_offsets_of_batch",
           "save_batch_as_text_files"]
