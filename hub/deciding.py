"""Deciding: what a batch of inbox messages does to the aggregates, before anything is written.

Each message is mapped to its contract and handed to its handler against the batch's unit of
work (``handlers.Workspace``: aggregates read once per batch and kept between batches in a
bounded cache). A payment for an order not seen yet is parked, and released in the batch that
places its order. Processing (``processing.py``) and dead-letter replay (``replay.py``) decide
the same way and differ only in how they commit.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from aggregates import DomainRuleViolation, Provenance
from hub.catalog import MappingCatalog
from hub.contracts import Contract
from hub.dead_letters import Failure
from hub.handlers import AwaitingOrder, Workspace, handle, target_ids
from hub.inbox import Inbox, InboxMessage
from hub.mapping import FieldNote, Mapping, MappingError
from hub.metrics import NO_TIME, HubMetrics, Lap
from hub.parking import Parked, ParkingLot
from hub.store import Store

__all__ = ["Batch", "Decider", "failure_of", "provenance_of"]

_Mapped = tuple[InboxMessage, Mapping, Contract, list[FieldNote]]


@dataclass
class Batch:
    """What one batch has decided, before it is committed."""

    workspace: Workspace
    failures: list[Failure] = field(default_factory=list)
    parked: list[Parked] = field(default_factory=list)
    placed: set[UUID] = field(default_factory=set)
    done: list[tuple[InboxMessage, Mapping]] = field(default_factory=list)
    notes: list[tuple[str, FieldNote]] = field(default_factory=list)  # (system, note) of done messages
    unparked: list[int] = field(default_factory=list)
    staged: Lap = NO_TIME  # spent in the stages timed on their own (map, handle, projections)


def provenance_of(message: InboxMessage, mapping: Mapping, notes: Sequence[FieldNote] = ()) -> Provenance:
    provenance: Provenance = {
        "system": message.system,
        "message_id": message.message_id,
        "received_at": message.received_at.isoformat(),
        "mapping": mapping.label,
    }
    if notes:
        provenance["notes"] = [note.as_dict() for note in notes]
    return provenance


def failure_of(message: InboxMessage, stage: str, reason: str, mapping: Mapping | None) -> Failure:
    """A dead letter for ``message``; a message read from a file names its file and row."""
    envelope = dict(message.envelope)
    envelope.setdefault("received_at", message.received_at.isoformat())
    source = envelope.get("source")
    return Failure(
        system=message.system,
        message_id=message.message_id,
        stage=stage,
        reason=f"{source}: {reason}" if isinstance(source, str) else reason,
        envelope=envelope,
        inbox_position=message.position or None,
        mapping=mapping.label if mapping else None,
    )


class Decider:
    def __init__(
        self,
        store: Store,
        catalog: MappingCatalog,
        metrics: HubMetrics,
        inbox: Inbox,
        parking: ParkingLot,
        cache_size: int = 100_000,
    ) -> None:
        self.store, self.catalog, self.metrics = store, catalog, metrics
        self.inbox, self.parking = inbox, parking
        self.cache_size = cache_size
        self._cache: OrderedDict[UUID, Any] = OrderedDict()

    def batch(self) -> Batch:
        return Batch(Workspace(self.store.replay, self._cache, self.cache_size))

    def decide(self, messages: list[InboxMessage], cursor: Any = None) -> Batch:
        """Map and apply messages to aggregates (nothing is written yet).

        Given the transaction's ``cursor`` (the streaming workers), the aggregates the batch will
        touch are locked first — several workers may share one (a customer who ordered twice, a
        payment for an order another partition placed) — and only then read, so a batch never
        decides on a state another worker is about to change, and parking and placing cannot
        race. Cached aggregates another worker has moved on are dropped.
        """
        batch = self.batch()
        began = Lap.now()
        mapped = [m for m in (self.map(message, batch) for message in messages) if m is not None]
        ids = {i for message, _, record, _ in mapped for i in target_ids(record, message.system)}
        batch.staged += self.metrics.spent("map", began, len(messages))
        began = Lap.now()
        if cursor is not None and self.store.dialect == "postgres" and ids:
            self.store.lock_keys(cursor, ids)
            self._drop_stale(cursor, ids)
        batch.workspace.prefetch(ids)
        for message, mapping, record, notes in mapped:
            self.apply(message, mapping, record, notes, batch)
        batch.unparked = self.unpark(batch)
        batch.staged += self.metrics.spent("handle", began, len(messages))
        return batch

    def map(self, message: InboxMessage, batch: Batch) -> _Mapped | None:
        mapping = None
        try:
            mapping = self.catalog.mappings(message.system).select(message.envelope)
            record, notes = mapping.translate(message.envelope, self.catalog.context(message.system))
            return message, mapping, record, notes
        except MappingError as error:
            batch.failures.append(failure_of(message, "mapping", str(error), mapping))
            return None

    def apply(
        self,
        message: InboxMessage,
        mapping: Mapping,
        record: Contract,
        notes: list[FieldNote],
        batch: Batch,
    ) -> bool:
        """Apply one mapped message; returns False when it had to be parked."""
        provenance = provenance_of(message, mapping, notes)
        try:
            placed = handle(record, message.system, provenance, batch.workspace)
        except AwaitingOrder as waiting:
            batch.parked.append(Parked(message, waiting.key, waiting.order_ref))
            return False
        except DomainRuleViolation as error:
            batch.failures.append(failure_of(message, "domain", str(error), mapping))
            return True
        if placed is not None:
            batch.placed.add(placed)
        batch.done.append((message, mapping))
        batch.notes.extend((message.system, note) for note in notes)
        return True

    def unpark(self, batch: Batch) -> list[int]:
        """Re-drive messages that waited for an order placed in this batch."""
        if not batch.placed:
            return []
        stored = self.parking.waiting_for(list(batch.placed))
        waiting = [p for p in batch.parked if p.awaiting in batch.placed]
        batch.parked = [p for p in batch.parked if p.awaiting not in batch.placed]
        messages = sorted(
            [p.message for p in waiting] + self.inbox.at(list(stored)), key=lambda m: m.position
        )
        released: list[int] = []
        for message in messages:
            mapped = self.map(message, batch)
            # Released unless it parked again; a mapping failure releases it as a dead letter.
            done = mapped is None or self.apply(*mapped, batch)
            if done and message.position in stored:
                released.append(message.position)
        return released

    def forget(self, batch: Batch | None = None) -> None:
        """Drop cached aggregates: all of them (a commit failed, another writer moved on, an
        erasure), or those ``batch`` touched (it decided but nothing was saved)."""
        if batch is None:
            self._cache.clear()
            return
        for aggregate_id in batch.workspace.touched:
            self._cache.pop(aggregate_id, None)

    def _drop_stale(self, cursor: Any, ids: set[UUID]) -> None:
        versions = self.store.versions_in(cursor, [i for i in ids if i in self._cache])
        for aggregate_id in ids:
            if aggregate_id not in self._cache:
                continue
            cached = self._cache[aggregate_id]
            if (cached.version if cached is not None else 0) != versions.get(aggregate_id, 0):
                del self._cache[aggregate_id]
