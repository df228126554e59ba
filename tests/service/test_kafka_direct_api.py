"""The batches route shows the offset ranges a Kafka direct stream's batch read."""

from __future__ import annotations

from pathlib import Path

from dstream import KafkaUtils, StreamingContext
from tests import servers

from .conftest import running_job


def test_batches_route_shows_the_offset_ranges_of_a_direct_stream(apache_kafka_bootstrap: str,
                                                                   tmp_path: Path) -> None:
    from kafka import KafkaProducer

    topic = servers.create_topic(apache_kafka_bootstrap, "direct-api", 2)
    producer = KafkaProducer(bootstrap_servers=apache_kafka_bootstrap)
    try:
        for i in range(30):
            producer.send(topic, b"x", partition=i % 2)
        producer.flush()
    finally:
        producer.close()

    def add_direct_stream(ssc: StreamingContext) -> None:
        KafkaUtils.createDirectStream(ssc, [topic], {"metadata.broker.list": apache_kafka_bootstrap,
                                                     "auto.offset.reset": "smallest"}).count().foreachRDD(
            lambda rdd: None)

    with running_job(tmp_path, extra=add_direct_stream) as running:
        first = running.batch()
        second = running.batch()
        with running.client() as client:
            one = client.get(f"/api/v1/streaming/batches/{first}").json()
            two = client.get(f"/api/v1/streaming/batches/{second}").json()
    assert sorted(one["offsetRanges"], key=lambda r: r["partition"]) == [
        {"topic": topic, "partition": p, "fromOffset": 0, "untilOffset": 15} for p in range(2)]
    assert one["inputSize"] == 30
    assert two["offsetRanges"] == [] and two["inputSize"] == 0
