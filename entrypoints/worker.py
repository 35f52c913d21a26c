"""``hub worker``: faust agents that consume the raw topics and run the embedded processing code.

A batch taken from the stream goes through ``Processor.process_deliveries`` — the same mapping,
validation, aggregates, provenance, dead letters and parking as the embedded path — and commits
its events with each partition's next offset in one PostgreSQL transaction. faust acknowledges
the events (and later commits their offsets to Kafka) only after that commit returned. A
redelivery after a crash or a rebalance finds its offsets already tracked, or its messages in
the inbox, and changes nothing: idempotency is the hub's, not faust's exactly-once mode.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faust
from faust.types import EventT

from hub.bootstrap import Hub
from hub.dead_letters import Failure
from hub.health import Heartbeat
from hub.processing import BatchReport, Delivery
from hub.streaming.codec import decode_delivery

__all__ = ["BatchHandler", "create_worker_app"]

log = logging.getLogger(__name__)


@dataclass
class BatchHandler:
    """The agent's body, apart from faust so it can be driven by faust's test context too."""

    hub: Hub
    systems: dict[str, str]  # raw topic -> system
    dead_letter_topic: Any  # a faust topic (anything with ``async send(key=, value=)``)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    totals: BatchReport = field(default_factory=BatchReport)

    async def handle(self, events: Sequence[EventT]) -> BatchReport:
        deliveries = [
            decode_delivery(
                e.message.value,
                e.message.topic,
                e.message.partition,
                e.message.offset,
                self.systems.get(e.message.topic, e.message.topic),
            )
            for e in events
        ]
        failures: list[Failure] = []
        self.hub.processor.on_dead_letters = failures.extend
        report = await self._process(deliveries)
        for failure in failures:
            await self.dead_letter_topic.send(key=failure.message_id.encode(), value=_dead_letter(failure))
        for e in events:
            key = (e.message.topic, e.message.partition)
            self.offsets[key] = max(self.offsets.get(key, -1), e.message.offset)
        self.totals.add(report)
        return report

    async def _process(self, deliveries: list[Delivery]) -> BatchReport:
        """Process until it commits: a failure here is the database's, not a message's (those
        become dead letters), so the batch is retried — never skipped, never acknowledged before
        — and the worker shows as stalled meanwhile."""
        pause = 0.1
        while True:
            try:
                return await asyncio.to_thread(self.hub.processor.process_deliveries, deliveries)
            except Exception:
                log.exception("a batch of %d records could not be committed; retrying", len(deliveries))
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)


def _dead_letter(failure: Failure) -> bytes:
    return json.dumps(asdict(failure), ensure_ascii=False, default=str).encode()


def create_worker_app(hub: Hub, *, name: str | None = None, web_port: int | None = None) -> faust.App:
    """A faust app bound to this hub: one agent over every configured system's raw topic."""
    streaming = hub.settings.streaming
    systems = {streaming.raw_topic(system): system for system in sorted(hub.settings.systems)}
    if not systems:
        raise ValueError("no systems configured: [systems.<name>] tables name the raw topics to consume")
    port = streaming.metrics_port if web_port is None else web_port
    heartbeat_interval = max(0.2, min(3.0, streaming.session_timeout_seconds / 5))
    app = faust.App(
        streaming.app_id,
        broker=[f"kafka://{b.strip()}" for b in streaming.brokers.split(",") if b.strip()],
        key_serializer="raw",
        value_serializer="raw",
        store="memory://",
        # faust makes "<app id>-data/v1/tables" even for memory tables: not in the working directory
        datadir=Path(tempfile.gettempdir()) / f"{streaming.app_id}-faust-data",
        topic_partitions=streaming.partitions,
        topic_replication_factor=streaming.replication_factor,
        topic_allow_declare=False,  # `create_topics` owns partitions and retention
        broker_session_timeout=streaming.session_timeout_seconds,
        broker_heartbeat_interval=heartbeat_interval,
        broker_rebalance_timeout=max(streaming.session_timeout_seconds * 2, 10),
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        stream_recovery_delay=0.0,
        web_enabled=port != 0,  # 0: no HTTP endpoint (unit tests)
        web_bind=hub.settings.http_host,
        web_port=port or 6066,
        web_in_thread=False,
    )
    raw_topics = app.topic(*systems, key_type=bytes, value_type=bytes)
    dead_letters = app.topic(streaming.dead_letter_topic, key_type=bytes, value_type=bytes)
    handler = BatchHandler(hub, systems, dead_letters)
    worker_name = name or f"worker:{streaming.app_id}:{_host_pid()}"
    heartbeat = Heartbeat(hub.store, worker_name, "worker")
    app.hub_handler = handler  # type: ignore[attr-defined]  # reached by tests and the benchmark

    @app.agent(raw_topics, concurrency=1)
    async def process(stream: faust.StreamT) -> None:
        async for events in stream.take_events(streaming.batch_size, within=streaming.batch_wait_seconds):
            await handler.handle(events)

    def lag() -> tuple[int, dict[str, int]]:
        per_partition: dict[str, int] = {}
        for tp in app.consumer.assignment():
            if tp.topic not in systems:
                continue
            high = app.consumer.highwater(tp) or 0
            done = handler.offsets.get((tp.topic, tp.partition), -1) + 1
            per_partition[f"{tp.topic}:{tp.partition}"] = max(high - done, 0) if high else 0
        return sum(per_partition.values()), per_partition

    @app.timer(interval=1.0)
    async def beat() -> None:
        backlog, per_partition = lag()
        for key, value in per_partition.items():
            topic, partition = key.rsplit(":", 1)
            hub.metrics.partition_lag.labels(topic, partition).set(value)
        await asyncio.to_thread(
            heartbeat.beat,
            handler.totals.messages,
            backlog,
            {"partitions": sorted(per_partition), "events": handler.totals.events},
        )

    @app.timer(interval=60.0, on_leader=True)
    async def expire_parked() -> None:
        await asyncio.to_thread(hub.expire_parked)

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(hub.metrics.render(), content_type="text/plain; version=0.0.4")

    @app.page("/health")
    async def health(web: Any, request: Any) -> Any:
        backlog, per_partition = lag()
        status = heartbeat.status(backlog, streaming.stall_after_seconds)
        return web.json(
            {
                "status": status,
                "name": worker_name,
                "backlog": backlog,
                "partitions": per_partition,
                "processed": handler.totals.messages,
                "dead_lettered": handler.totals.dead_lettered,
            },
            status=503 if status == "stalled" else 200,
        )

    return app


def _host_pid() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
