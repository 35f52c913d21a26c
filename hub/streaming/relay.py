"""``hub relay``: stored events published to the outbound topic for downstream consumers.

The relay follows the notification log from its tracking position, publishes a batch keyed by
aggregate id (one aggregate's events stay in one partition, in version order), waits until the
broker has all of them (acks=all), and only then records the new position. A crash between the
two repeats at most that batch, and a repeat carries the same ``event_id``, so consumers can
drop it; nothing is ever skipped.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from aiokafka import AIOKafkaProducer

from hub.health import Heartbeat
from hub.metrics import HubMetrics
from hub.settings import StreamingSettings
from hub.store import Store
from hub.streaming.topics import new_producer

__all__ = ["EventRelay", "event_document"]


def event_document(notification_id: int, event: Any) -> dict[str, Any]:
    """The outbound shape of one event: ids to de-duplicate on, its type, its data."""
    data = {
        k: v for k, v in vars(event).items() if k not in ("originator_id", "originator_version", "timestamp")
    }
    return {
        "event_id": f"{event.originator_id}:{event.originator_version}",
        "notification_id": notification_id,
        "aggregate_id": str(event.originator_id),
        "aggregate_version": event.originator_version,
        "type": f"{type(event).__module__}.{type(event).__qualname__}",
        "timestamp": event.timestamp.isoformat(),
        "data": data,
    }


class EventRelay:
    def __init__(self, store: Store, streaming: StreamingSettings, metrics: HubMetrics) -> None:
        self.store, self.streaming, self.metrics = store, streaming, metrics
        self.topic = streaming.events_topic
        self.tracking = f"relay:{self.topic}"
        self.heartbeat = Heartbeat(store, f"relay:{self.topic}", "relay")
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = new_producer(self.streaming, "relay")
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def relay_batch(self) -> int:
        """Publish the next batch; returns how many events went out (0: up to date)."""
        if self._producer is None:
            raise RuntimeError("EventRelay.start() was not awaited")
        position = await asyncio.to_thread(self.store.position, self.tracking)
        notifications = await asyncio.to_thread(
            self.store.notifications, position, self.streaming.relay_batch_size
        )
        if not notifications:
            return 0
        sent = []
        for notification in notifications:
            event = self.store.decode(notification)
            body = json.dumps(event_document(notification.id, event), default=str).encode()
            key = str(notification.originator_id).encode()
            sent.append(await self._producer.send(self.topic, body, key=key))
        for delivery in sent:
            await delivery
        last = notifications[-1].id
        await asyncio.to_thread(self._record, last)
        self.metrics.relayed_total.inc(len(notifications))
        return len(notifications)

    def _record(self, position: int) -> None:
        with self.store.transaction() as cursor:
            self.store.track(cursor, self.tracking, position)

    def beat(self) -> None:
        position = self.store.position(self.tracking)
        self.heartbeat.beat(position, max(self.store.head() - position, 0))

    async def run(self, stop: threading.Event, idle_seconds: float = 0.2) -> None:
        """Relay until ``stop`` is set (from any thread); heartbeats about once a second."""
        loop = asyncio.get_running_loop()
        last_beat = 0.0
        while not stop.is_set():
            sent = await self.relay_batch()
            if loop.time() - last_beat >= 1.0:
                await asyncio.to_thread(self.beat)
                last_beat = loop.time()
            if not sent:
                await asyncio.sleep(idle_seconds)
