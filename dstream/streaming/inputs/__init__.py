"""Input streams: the base class, queues, files, receivers and the direct Kafka stream."""
