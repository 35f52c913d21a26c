"""Prometheus metrics of one hub process, in a registry of its own (no import-time globals)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["NO_TIME", "HubMetrics", "Lap"]


@dataclass(frozen=True, slots=True)
class Lap:
    """Wall-clock seconds and this thread's CPU seconds. A stage's wall time is what it cost
    the caller; its CPU time what it cost the machine, which stays steady when other tenants
    of a shared machine load it (the benchmark's regression guard compares that)."""

    wall: float = 0.0
    cpu: float = 0.0

    @staticmethod
    def now() -> Lap:
        return Lap(time.perf_counter(), time.thread_time())

    def __add__(self, other: Lap) -> Lap:
        return Lap(self.wall + other.wall, self.cpu + other.cpu)

    def __sub__(self, other: Lap) -> Lap:
        return Lap(self.wall - other.wall, self.cpu - other.cpu)


NO_TIME = Lap()


class HubMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.received_total = Counter(
            "hub_messages_received_total",
            "Messages received by adapters, by outcome (stored or duplicate)",
            ["system", "outcome"],
            registry=self.registry,
        )
        self.processed_total = Counter(
            "hub_messages_processed_total",
            "Messages processed into events, by system and mapping",
            ["system", "type"],
            registry=self.registry,
        )
        self.dead_lettered_total = Counter(
            "hub_messages_dead_lettered_total",
            "Messages that became dead letters, by system and failing stage",
            ["system", "stage"],
            registry=self.registry,
        )
        self.field_notes_total = Counter(
            "hub_field_notes_total",
            "Values a lenient mapping field could not read (the record was kept without them)",
            ["system", "field"],
            registry=self.registry,
        )
        self.parked_total = Counter(
            "hub_messages_parked_total",
            "Messages parked until the order they refer to arrives",
            ["system"],
            registry=self.registry,
        )
        self.rejected_total = Counter(
            "hub_webhooks_rejected_total",
            "Webhook requests refused (a 4xx, or a 503 while the database failed), by reason",
            ["system", "reason"],
            registry=self.registry,
        )
        self.database_failures_total = Counter(
            "hub_database_failures_total",
            "Database operations that failed (a server gone, a full disk), by where: an HTTP "
            "request answered 503, a processing or projection round retried later",
            ["where"],
            registry=self.registry,
        )
        self.processing_seconds = Histogram(
            "hub_processing_latency_seconds",
            "Time from receipt of a message to the commit of its events",
            ["system"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.projection_lag = Gauge(
            "hub_projection_lag_events",
            "Events in the log that a projection has not applied yet",
            ["projection"],
            registry=self.registry,
        )
        self.inbox_backlog = Gauge(
            "hub_inbox_backlog_messages",
            "Messages in the inbox not yet processed",
            registry=self.registry,
        )
        self.partition_lag = Gauge(
            "hub_worker_partition_lag_messages",
            "Raw messages in a Kafka partition this worker has not processed yet",
            ["topic", "partition"],
            registry=self.registry,
        )
        self.batch_retries_total = Counter(
            "hub_batch_retries_total",
            "Batches redone because another writer changed one of their aggregates or positions first",
            registry=self.registry,
        )
        self.identity_set_aside_total = Counter(
            "hub_identity_records_set_aside_total",
            "Customer records the identity matcher failed on (a bug; see the log), kept as customers "
            "of their own until a rematch",
            registry=self.registry,
        )
        self.relayed_total = Counter(
            "hub_events_relayed_total",
            "Stored events published to the outbound topic",
            registry=self.registry,
        )
        self.stage_seconds_total = Counter(
            "hub_stage_seconds_total",
            "Time spent in each stage of the pipeline (receive, map, handle, write, project:NAME, "
            "identity): where a message's cost goes, and which stage grew",
            ["stage"],
            registry=self.registry,
        )
        self.stage_cpu_seconds_total = Counter(
            "hub_stage_cpu_seconds_total",
            "CPU time of the thread running each stage of the pipeline (its cost to the machine)",
            ["stage"],
            registry=self.registry,
        )
        self.stage_items_total = Counter(
            "hub_stage_items_total",
            "What each stage took in: messages (receive, map, handle, write), events (project:NAME), "
            "customer records (identity)",
            ["stage"],
            registry=self.registry,
        )
        self._stages: dict[str, tuple[Any, Any, Any]] = {}
        self._processed: dict[tuple[str, str], tuple[Any, Any]] = {}
        self.orders_per_stage = Gauge(
            "hub_orders",
            "Orders per tracking stage",
            ["stage"],
            registry=self.registry,
        )

    def received(self, system: str, stored: int, duplicates: int) -> None:
        if stored:
            self.received_total.labels(system, "stored").inc(stored)
        if duplicates:
            self.received_total.labels(system, "duplicate").inc(duplicates)

    def processed(self, system: str, kind: str, latency_seconds: float) -> None:
        # Label lookups are a measurable cost per message; keep the children.
        key = (system, kind)
        children = self._processed.get(key)
        if children is None:
            children = (self.processed_total.labels(system, kind), self.processing_seconds.labels(system))
            self._processed[key] = children
        children[0].inc()
        children[1].observe(max(latency_seconds, 0.0))

    def spent(self, stage: str, since: Lap, items: int, less: Lap = NO_TIME) -> Lap:
        """A batch's time in one stage since ``since``, less what ``less`` was spent inside it
        by stages counted on their own: counted once per batch, never per message (hot path).
        Returns the time counted."""
        took = Lap.now() - since - less
        children = self._stages.get(stage)
        if children is None:
            children = (
                self.stage_seconds_total.labels(stage),
                self.stage_cpu_seconds_total.labels(stage),
                self.stage_items_total.labels(stage),
            )
            self._stages[stage] = children
        children[0].inc(max(took.wall, 0.0))
        children[1].inc(max(took.cpu, 0.0))
        children[2].inc(items)
        return took

    @contextmanager
    def stage(self, stage: str, items: int) -> Iterator[None]:
        """Times the block as ``stage`` (also when it raises: the time was spent)."""
        began = Lap.now()
        try:
            yield
        finally:
            self.spent(stage, began, items)

    def stages(self) -> dict[str, tuple[float, float, float]]:
        """Wall seconds, CPU seconds and items per stage so far in this process (what the
        benchmark reads)."""
        sample = self.registry.get_sample_value
        return {
            stage: (
                sample("hub_stage_seconds_total", {"stage": stage}) or 0.0,
                sample("hub_stage_cpu_seconds_total", {"stage": stage}) or 0.0,
                sample("hub_stage_items_total", {"stage": stage}) or 0.0,
            )
            for stage in self._stages
        }

    def refused(self, system: str, code: str) -> None:
        self.rejected_total.labels(system, code).inc()

    def database_failed(self, where: str) -> None:
        self.database_failures_total.labels(where).inc()

    def dead_lettered(self, system: str, stage: str) -> None:
        self.dead_lettered_total.labels(system, stage).inc()

    def field_noted(self, system: str, field: str) -> None:
        self.field_notes_total.labels(system, field).inc()

    def parked(self, system: str) -> None:
        self.parked_total.labels(system).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
