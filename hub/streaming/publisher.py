"""Adapters in distributed mode: raw messages go to Kafka (acks=all) instead of the local inbox.

The record key is the entity key the system's mapping declares (order ref, customer key, item),
so one entity's messages land in one partition and are processed in the order they arrived.
An adapter acknowledges its source only after ``publish`` returned: the broker has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from hub.catalog import MappingCatalog
from hub.inbox import RawMessage, RecordOutcome, received_at
from hub.metrics import HubMetrics
from hub.settings import HubSettings
from hub.streaming.codec import encode_raw
from hub.streaming.topics import new_producer

__all__ = ["RawPublisher"]


class RawPublisher:
    def __init__(self, settings: HubSettings, catalog: MappingCatalog, metrics: HubMetrics) -> None:
        self.settings, self.catalog, self.metrics = settings, catalog, metrics
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = new_producer(self.settings.streaming, "publisher")
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, system: str, envelopes: Sequence[dict[str, Any]]) -> RecordOutcome:
        """Send raw messages and wait until the broker has every one of them."""
        if self._producer is None:
            raise RuntimeError("RawPublisher.start() was not awaited")
        mappings = self.catalog.mappings(system)
        topic = self.settings.streaming.raw_topic(system)
        now = datetime.now(UTC)
        sent = []
        for envelope in envelopes:
            message = RawMessage(system, mappings.message_id(envelope), envelope, received_at(envelope, now))
            key = mappings.entity_key(envelope) or message.message_id
            sent.append(await self._producer.send(topic, encode_raw(message), key=key.encode()))
        for delivery in sent:
            await delivery  # raises if the broker did not take the record
        self.metrics.received(system, len(sent), 0)
        return RecordOutcome(len(sent), 0)
