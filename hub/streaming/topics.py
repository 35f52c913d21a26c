"""The hub's Kafka topics, created with the partitions and retention of the configuration."""

from __future__ import annotations

import contextlib

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from hub.settings import HubSettings, StreamingSettings

__all__ = ["create_topics", "new_producer", "raw_systems", "topic_names"]


def new_producer(streaming: StreamingSettings, role: str) -> AIOKafkaProducer:
    """A producer whose sends complete only when every in-sync replica has the record."""
    return AIOKafkaProducer(
        bootstrap_servers=streaming.brokers,
        client_id=f"{streaming.app_id}-{role}",
        acks="all",
        linger_ms=5,
        max_batch_size=1 << 20,
    )


def raw_systems(settings: HubSettings, extra: list[str] | None = None) -> list[str]:
    """Systems whose raw messages travel over Kafka: the configured ones (and any named)."""
    return sorted(set(settings.systems) | set(extra or ()))


def topic_names(settings: HubSettings, systems: list[str]) -> list[str]:
    streaming = settings.streaming
    return [
        *(streaming.raw_topic(system) for system in systems),
        streaming.dead_letter_topic,
        streaming.events_topic,
    ]


async def create_topics(settings: HubSettings, systems: list[str]) -> list[str]:
    """Create whichever of the hub's topics are missing; returns the ones created."""
    streaming = settings.streaming
    retention_ms = str(int(streaming.retention_hours * 3600 * 1000))
    admin = AIOKafkaAdminClient(bootstrap_servers=streaming.brokers, client_id=f"{streaming.app_id}-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [name for name in topic_names(settings, systems) if name not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process was first
                await admin.create_topics(
                    [
                        NewTopic(
                            name,
                            num_partitions=streaming.partitions,
                            replication_factor=streaming.replication_factor,
                            topic_configs={"retention.ms": retention_ms},
                        )
                        for name in wanted
                    ]
                )
        return wanted
    finally:
        await admin.close()
