"""Processing: inbox messages → mapping → aggregates → events, one transaction per batch.

A batch commits its events, its dead letters, its parked messages and the inbox position it
reached together, so a crash anywhere repeats the whole batch or none of it. Parked messages
(a payment for an order not seen yet) are re-driven in the batch that places their order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError, PersistenceError, RecordConflictError, Tracking

from aggregates import DomainRuleViolation, Provenance, order_id
from hub.accounting import mark_applied
from hub.catalog import MappingCatalog
from hub.contracts import Contract, OrderPlaced
from hub.dead_letters import DeadLetter, DeadLetters, Failure
from hub.handlers import AwaitingOrder, Workspace, handle, target_ids
from hub.inbox import Inbox, InboxMessage, RawMessage
from hub.mapping import FieldNote, Mapping, MappingError
from hub.metrics import NO_TIME, HubMetrics, Lap
from hub.parking import Parked, ParkingLot
from hub.store import Store

__all__ = ["PROCESSOR", "BatchReport", "Delivery", "Processor", "ReplayOutcome"]

PROCESSOR = "processor"


class InlineFollower(Protocol):
    """A read model updated inside the processing transaction (``Projector``)."""

    def follow_inline(self, cursor: Any, events: list[Any], ids: list[int]) -> Lap:
        """Returns the time it spent (its own stages), so the write stage is what is left."""
        ...

    def settle(self, committed: bool) -> None: ...


@dataclass
class BatchReport:
    messages: int = 0
    processed: int = 0
    dead_lettered: int = 0
    parked: int = 0
    unparked: int = 0
    events: int = 0
    position: int = 0

    def add(self, other: BatchReport) -> None:
        for name in ("messages", "processed", "dead_lettered", "parked", "unparked", "events"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.position = max(self.position, other.position)


@dataclass(frozen=True)
class Delivery:
    """A raw message as a partitioned log (Kafka) delivered it.

    ``source`` names the partition (it is the tracking name); the tracking position recorded
    for it is the next offset to read, as Kafka's committed offsets are.
    """

    message: RawMessage
    source: str
    offset: int
    problem: str | None = None  # set when the record could not be read as a message


@dataclass(frozen=True)
class ReplayOutcome:
    letter_id: int
    resolved: bool
    outcome: str


_Mapped = tuple[InboxMessage, Mapping, Contract, list[FieldNote]]


@dataclass
class _Batch:
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


class Processor:
    def __init__(
        self,
        store: Store,
        catalog: MappingCatalog,
        metrics: HubMetrics,
        *,
        batch_size: int = 500,
        cache_size: int = 100_000,
        follower: InlineFollower | None = None,
    ) -> None:
        self.store, self.catalog, self.metrics = store, catalog, metrics
        self.inbox = Inbox(store)
        self.dead_letters = DeadLetters(store)
        self.parking = ParkingLot(store)
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._cache: OrderedDict[UUID, Any] = OrderedDict()
        # Read models updated in the same transaction as the events (see Projector.follow_inline).
        self.follower = follower
        # Told of dead letters once they are committed (the streaming worker publishes them).
        self.on_dead_letters: Callable[[list[Failure]], None] | None = None

    # -- the hot path --------------------------------------------------------------------------

    def process_available(self, on_batch: Callable[[BatchReport], None] | None = None) -> BatchReport:
        """Process until the inbox is drained; returns the totals."""
        total = BatchReport(position=self.store.position(PROCESSOR))
        while (report := self.process_batch()) is not None:
            total.add(report)
            if on_batch is not None:
                on_batch(report)
        return total

    def backlog(self) -> int:
        return self.inbox.count_after(self.store.position(PROCESSOR))

    def process_batch(self) -> BatchReport | None:
        return self._with_retries(lambda: self._process_batch(self.batch_size), self._isolate)

    def process_deliveries(self, deliveries: Sequence[Delivery]) -> BatchReport:
        """Process what a partitioned log delivered: the streaming worker's entry point.

        The messages enter the inbox, and their events, dead letters, parked rows and each
        partition's next offset commit in one transaction. A redelivery (after a crash or a
        rebalance) finds its offsets tracked or its messages in the inbox and has no effect.
        """
        return self._with_retries(
            lambda: self._process_deliveries(deliveries), lambda: self._isolate_deliveries(deliveries)
        )

    def _with_retries(
        self, attempt_batch: Callable[[], BatchReport | None], isolate: Callable[[], BatchReport]
    ) -> BatchReport | None:
        for attempt in range(5):
            try:
                return attempt_batch()
            except (IntegrityError, RecordConflictError):
                # Another writer moved an aggregate or the position first: our cached
                # aggregates may be stale, so forget them and redo the batch from the store.
                self._forget()
                self.metrics.batch_retries_total.inc()
                if attempt == 4:
                    raise
            except PersistenceError:
                self._forget()  # the database is unwell: retry later, blame no message
                raise
            except Exception:
                self._forget()
                return isolate()
            except BaseException:
                self._forget()
                raise
        return None

    def _isolate(self) -> BatchReport:
        """One message per transaction, so a message that breaks processing in a way no rule
        foresaw (a bug) is found, dead-lettered with the error, and the rest flows on."""
        total = BatchReport()
        for message in self.inbox.after(self.store.position(PROCESSOR), self.batch_size):
            report = self._isolated(
                lambda: self._process_batch(1), message, [Tracking(PROCESSOR, message.position)]
            )
            if report is not None:
                total.add(report)
        return total

    def _isolate_deliveries(self, deliveries: Sequence[Delivery]) -> BatchReport:
        total = BatchReport()
        for delivery in deliveries:
            message = InboxMessage(
                0,
                delivery.message.system,
                delivery.message.message_id,
                delivery.message.received_at,
                delivery.message.envelope,
            )
            report = self._isolated(
                lambda d=delivery: self._process_deliveries([d]),  # type: ignore[misc]
                message,
                [Tracking(delivery.source, delivery.offset + 1)],
            )
            if report is not None:
                total.add(report)
        return total

    def _isolated(
        self, attempt_one: Callable[[], BatchReport | None], message: InboxMessage, tracking: list[Tracking]
    ) -> BatchReport | None:
        try:
            return attempt_one()
        except PersistenceError:
            self._forget()
            raise
        except Exception as error:
            self._forget()
            failure = _failure(message, "error", f"{type(error).__name__}: {error}", None)
            with self.store.transaction() as cursor:
                self.dead_letters.add(cursor, [failure])
                for position in tracking:
                    self.store.track(cursor, position.application_name, position.notification_id)
            self.metrics.dead_lettered(message.system, "error")
            self._committed([failure])
            return BatchReport(messages=1, dead_lettered=1, position=message.position)

    def forget_cached(self) -> None:
        """Drop cached aggregates (after an erasure, they may hold what is no longer readable)."""
        self._forget()

    def _forget(self) -> None:
        self._cache.clear()
        if self.follower is not None:
            self.follower.settle(committed=False)

    def _process_batch(self, limit: int) -> BatchReport | None:
        messages = self.inbox.after(self.store.position(PROCESSOR), limit)
        if not messages:
            return None
        batch = self._decide(messages)
        began, staged = Lap.now(), batch.staged
        with self.store.transaction() as cursor:
            events = self._write(cursor, batch, [Tracking(PROCESSOR, messages[-1].position)])
        self.metrics.spent("write", began, len(messages), less=batch.staged - staged)
        self._committed(batch.failures)
        return self._report(messages, batch, events, messages[-1].position)

    def _process_deliveries(self, deliveries: Sequence[Delivery]) -> BatchReport:
        tracked = self.store.positions(d.source for d in deliveries)
        fresh = [d for d in deliveries if d.offset >= tracked[d.source]]
        if not fresh:
            return BatchReport(messages=len(deliveries))
        reached: dict[str, int] = {}
        for delivery in fresh:
            reached[delivery.source] = max(reached.get(delivery.source, 0), delivery.offset + 1)
        tracking = [Tracking(source, offset) for source, offset in sorted(reached.items())]
        unreadable = [_unreadable(d) for d in fresh if d.problem]
        began = Lap.now()
        with self.store.transaction() as cursor:
            messages = self.inbox.insert_new(cursor, [d.message for d in fresh if not d.problem])
            batch = self._decide(messages, cursor)
            batch.failures.extend(unreadable)
            events = self._write(cursor, batch, tracking)
        # the write stage: the transaction less what the stages counted on their own spent in it
        self.metrics.spent("write", began, len(fresh), less=batch.staged)
        self._committed(batch.failures)
        report = self._report(messages, batch, events, 0)
        report.messages = len(deliveries)
        return report

    def _decide(self, messages: list[InboxMessage], cursor: Any = None) -> _Batch:
        """Map and apply messages to aggregates (nothing is written yet).

        Given the transaction's ``cursor`` (the streaming workers), the aggregates the batch will
        touch are locked first — several workers may share one (a customer who ordered twice, a
        payment for an order another partition placed) — and only then read, so a batch never
        decides on a state another worker is about to change, and parking and placing cannot
        race. Cached aggregates another worker has moved on are dropped.
        """
        batch = _Batch(Workspace(self.store.replay, self._cache, self.cache_size))
        began = Lap.now()
        mapped = [m for m in (self._map(message, batch) for message in messages) if m is not None]
        ids = {i for message, _, record, _ in mapped for i in target_ids(record, message.system)}
        batch.staged += self.metrics.spent("map", began, len(messages))
        began = Lap.now()
        if cursor is not None and self.store.dialect == "postgres" and ids:
            self.store.lock_keys(cursor, ids)
            self._drop_stale(cursor, ids)
        batch.workspace.prefetch(ids)
        for message, mapping, record, notes in mapped:
            self._apply(message, mapping, record, notes, batch)
        batch.unparked = self._unpark(batch)
        batch.staged += self.metrics.spent("handle", began, len(messages))
        return batch

    def _drop_stale(self, cursor: Any, ids: set[UUID]) -> None:
        versions = self.store.versions_in(cursor, [i for i in ids if i in self._cache])
        for aggregate_id in ids:
            if aggregate_id not in self._cache:
                continue
            cached = self._cache[aggregate_id]
            if (cached.version if cached is not None else 0) != versions.get(aggregate_id, 0):
                del self._cache[aggregate_id]

    def _write(self, cursor: Any, batch: _Batch, tracking: list[Tracking]) -> list[Any]:
        """Commit a batch's decisions and positions in the caller's transaction."""
        events = batch.workspace.collect()
        for position in tracking[1:]:
            self.store.track(cursor, position.application_name, position.notification_id)
        ids = self.store.append(cursor, events, tracking[0])
        mark_applied(self.store, cursor, [message.position for message, _ in batch.done])
        self.dead_letters.add(cursor, batch.failures)
        self.parking.write(cursor, batch.parked, batch.unparked)
        if self.follower is not None:
            batch.staged += self.follower.follow_inline(cursor, events, ids)
        return events

    def _committed(self, failures: list[Failure]) -> None:
        if self.follower is not None:
            self.follower.settle(committed=True)
        if failures and self.on_dead_letters is not None:
            self.on_dead_letters(failures)

    def _report(
        self, messages: list[InboxMessage], batch: _Batch, events: list[Any], position: int
    ) -> BatchReport:
        report = BatchReport(
            messages=len(messages),
            processed=len(batch.done),
            dead_lettered=len(batch.failures),
            parked=len(batch.parked),
            unparked=len(batch.unparked),
            events=len(events),
            position=position,
        )
        self._observe(batch)
        return report

    def _map(self, message: InboxMessage, batch: _Batch) -> _Mapped | None:
        mapping = None
        try:
            mapping = self.catalog.mappings(message.system).select(message.envelope)
            record, notes = mapping.translate(message.envelope, self.catalog.context(message.system))
            return message, mapping, record, notes
        except MappingError as error:
            batch.failures.append(_failure(message, "mapping", str(error), mapping))
            return None

    def _apply(
        self,
        message: InboxMessage,
        mapping: Mapping,
        record: Contract,
        notes: list[FieldNote],
        batch: _Batch,
    ) -> bool:
        """Apply one mapped message; returns False when it had to be parked."""
        provenance = provenance_of(message, mapping, notes)
        try:
            placed = handle(record, message.system, provenance, batch.workspace)
        except AwaitingOrder as waiting:
            batch.parked.append(Parked(message, waiting.key, waiting.order_ref))
            return False
        except DomainRuleViolation as error:
            batch.failures.append(_failure(message, "domain", str(error), mapping))
            return True
        if placed is not None:
            batch.placed.add(placed)
        batch.done.append((message, mapping))
        batch.notes.extend((message.system, note) for note in notes)
        return True

    def _unpark(self, batch: _Batch) -> list[int]:
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
            mapped = self._map(message, batch)
            # Released unless it parked again; a mapping failure releases it as a dead letter.
            done = mapped is None or self._apply(*mapped, batch)
            if done and message.position in stored:
                released.append(message.position)
        return released

    def _observe(self, batch: _Batch) -> None:
        now = datetime.now(UTC)
        for message, mapping in batch.done:
            self.metrics.processed(message.system, mapping.name, (now - message.received_at).total_seconds())
        for failure in batch.failures:
            self.metrics.dead_lettered(failure.system, failure.stage)
        for parked in batch.parked:
            self.metrics.parked(parked.message.system)
        for system, note in batch.notes:
            self.metrics.field_noted(system, note.field)

    # -- parked messages that never find their order --------------------------------------------

    def expire_parked(self, timeout: timedelta, now: datetime | None = None) -> int:
        rows = self.parking.received_before((now or datetime.now(UTC)) - timeout)
        if not rows:
            return 0
        messages = {m.position: m for m in self.inbox.at([r["inbox_position"] for r in rows])}
        failures = [
            _failure(
                messages[row["inbox_position"]],
                "parking",
                f"order {row['awaiting_ref']!r} never arrived: waited since {row['received_at']} "
                f"(parked_timeout_hours = {timeout.total_seconds() / 3600:g})",
                None,
            )
            for row in rows
        ]
        with self.store.transaction() as cursor:
            self.dead_letters.add(cursor, failures)
            self.parking.write(cursor, [], [row["inbox_position"] for row in rows])
        for failure in failures:
            self.metrics.dead_lettered(failure.system, failure.stage)
        return len(rows)

    def parked_count(self) -> int:
        return self.parking.count()

    def parked(self) -> list[dict[str, Any]]:
        """Waiting messages; ``order_dead_letter`` names the dead letter that holds the very order
        a message waits for (it will not arrive until that letter is replayed)."""
        rows = self.parking.listing()
        dead = self._dead_orders() if rows else {}
        return [
            {
                **{k: v for k, v in dict(row).items() if k != "awaiting"},
                "order_dead_letter": dead.get(row["awaiting"]),
            }
            for row in rows
        ]

    def _dead_orders(self) -> dict[str, int]:
        """Open dead letters of order placements, by the hex id of the order they would place."""
        found: dict[str, int] = {}
        for letter in self.dead_letters.list("open"):
            try:
                mapping = self.catalog.mappings(letter.system).select(letter.envelope)
            except MappingError:
                continue
            if mapping.contract is not OrderPlaced:
                continue
            ref = mapping.read_field(letter.envelope, "order_ref", self.catalog.context(letter.system))
            if ref not in (None, ""):
                found.setdefault(order_id(letter.system, str(ref)).hex, letter.id)
        return found

    # -- dead-letter replay --------------------------------------------------------------------

    def replay(self, letters: list[DeadLetter]) -> list[ReplayOutcome]:
        """Re-drive dead letters through the current mappings; each outcome is recorded."""
        self.catalog.reload()
        return [self._replay_one(letter) for letter in letters]

    def _replay_one(self, letter: DeadLetter) -> ReplayOutcome:
        message = InboxMessage(
            position=letter.inbox_position or 0,
            system=letter.system,
            message_id=letter.message_id,
            received_at=datetime.fromisoformat(letter.envelope.get("received_at") or letter.created_at),
            envelope=letter.envelope,
        )
        batch = _Batch(Workspace(self.store.replay, self._cache, self.cache_size))
        try:
            if "body" not in letter.envelope:
                raise MappingError(f"payload is not a message: {letter.reason}")
            mapped = self._map(message, batch)
            if mapped is not None:
                self._apply(*mapped, batch)
            if batch.parked:
                outcome, resolved = f"still waiting for order {batch.parked[0].order_ref!r}", False
            elif batch.failures:
                outcome, resolved = f"failed again: {batch.failures[0].reason}", False
            else:
                outcome, resolved = "processed", True
        except MappingError as error:
            outcome, resolved = f"failed again: {error}", False
        # An order placed by the replay releases the messages that were waiting for it.
        released = self._unpark(batch) if resolved else []
        try:
            with self.store.transaction() as cursor:
                if resolved:
                    self.store.append(cursor, batch.workspace.collect())
                    mark_applied(self.store, cursor, [message.position for message, _ in batch.done])
                    self.dead_letters.add(cursor, batch.failures)
                    self.parking.write(cursor, batch.parked, released)
                self.dead_letters.record_replay(cursor, letter.id, outcome, resolved=resolved)
        except BaseException:
            self._cache.clear()
            raise
        if not resolved:
            # Nothing was saved, so aggregates touched by a failed attempt must not linger.
            for aggregate_id in batch.workspace.touched:
                self._cache.pop(aggregate_id, None)
        return ReplayOutcome(letter.id, resolved, outcome)


def _unreadable(delivery: Delivery) -> Failure:
    return Failure(
        system=delivery.message.system,
        message_id=delivery.message.message_id,
        stage="parse",
        reason=delivery.problem or "unreadable",
        envelope=delivery.message.envelope,
        inbox_position=None,
        mapping=None,
    )


def _failure(message: InboxMessage, stage: str, reason: str, mapping: Mapping | None) -> Failure:
    envelope = dict(message.envelope)
    envelope.setdefault("received_at", message.received_at.isoformat())
    source = envelope.get("source")  # file and row of a message read from a file
    return Failure(
        system=message.system,
        message_id=message.message_id,
        stage=stage,
        reason=f"{source}: {reason}" if isinstance(source, str) else reason,
        envelope=envelope,
        inbox_position=message.position or None,
        mapping=mapping.label if mapping else None,
    )
