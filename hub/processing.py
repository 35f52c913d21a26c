"""Processing: the batch loop - inbox messages → decisions (``deciding.py``) → events, one
transaction per batch.

A batch commits its events, its dead letters, its parked messages and the inbox position it
reached together, so a crash anywhere repeats the whole batch or none of it. A batch that fails
in a way no rule foresaw is retried one message per transaction, so the message that breaks it
is dead-lettered with the error and the rest flows on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from eventsourcing.persistence import IntegrityError, PersistenceError, RecordConflictError, Tracking

from hub.accounting import mark_applied
from hub.catalog import MappingCatalog
from hub.dead_letters import DeadLetters, Failure
from hub.deciding import Batch, Decider, failure_of
from hub.inbox import Inbox, InboxMessage, RawMessage
from hub.metrics import HubMetrics, Lap
from hub.parking import ParkingLot
from hub.store import Store

__all__ = ["PROCESSOR", "BatchReport", "Delivery", "Processor"]

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
        self.store, self.metrics = store, metrics
        self.inbox = Inbox(store)
        self.dead_letters = DeadLetters(store)
        self.parking = ParkingLot(store)
        self.decider = Decider(store, catalog, metrics, self.inbox, self.parking, cache_size)
        self.batch_size = batch_size
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
            failure = failure_of(message, "error", f"{type(error).__name__}: {error}", None)
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
        self.decider.forget()
        if self.follower is not None:
            self.follower.settle(committed=False)

    def _process_batch(self, limit: int) -> BatchReport | None:
        messages = self.inbox.after(self.store.position(PROCESSOR), limit)
        if not messages:
            return None
        batch = self.decider.decide(messages)
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
            batch = self.decider.decide(messages, cursor)
            batch.failures.extend(unreadable)
            events = self._write(cursor, batch, tracking)
        # the write stage: the transaction less what the stages counted on their own spent in it
        self.metrics.spent("write", began, len(fresh), less=batch.staged)
        self._committed(batch.failures)
        report = self._report(messages, batch, events, 0)
        report.messages = len(deliveries)
        return report

    def _write(self, cursor: Any, batch: Batch, tracking: list[Tracking]) -> list[Any]:
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
        self, messages: list[InboxMessage], batch: Batch, events: list[Any], position: int
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

    def _observe(self, batch: Batch) -> None:
        now = datetime.now(UTC)
        for message, mapping in batch.done:
            self.metrics.processed(message.system, mapping.name, (now - message.received_at).total_seconds())
        for failure in batch.failures:
            self.metrics.dead_lettered(failure.system, failure.stage)
        for parked in batch.parked:
            self.metrics.parked(parked.message.system)
        for system, note in batch.notes:
            self.metrics.field_noted(system, note.field)


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
