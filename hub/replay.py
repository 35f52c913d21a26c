"""Dead-letter replay: a letter re-driven through the current mappings, after a fix.

A replay decides as processing does (``Decider``) and commits what it decided, the letters it
releases and its outcome in one transaction; an attempt that fails again saves nothing but its
outcome, so the letter stays open with the new reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.accounting import mark_applied
from hub.catalog import MappingCatalog
from hub.dead_letters import DeadLetter, DeadLetters
from hub.deciding import Decider
from hub.inbox import InboxMessage
from hub.mapping import MappingError
from hub.parking import ParkingLot
from hub.store import Store

__all__ = ["DeadLetterReplay", "ReplayOutcome"]


@dataclass(frozen=True)
class ReplayOutcome:
    letter_id: int
    resolved: bool
    outcome: str


class DeadLetterReplay:
    def __init__(
        self,
        store: Store,
        catalog: MappingCatalog,
        decider: Decider,
        dead_letters: DeadLetters,
        parking: ParkingLot,
    ) -> None:
        self.store, self.catalog, self.decider = store, catalog, decider
        self.dead_letters, self.parking = dead_letters, parking

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
        decider = self.decider
        batch = decider.batch()
        try:
            if "body" not in letter.envelope:
                raise MappingError(f"payload is not a message: {letter.reason}")
            mapped = decider.map(message, batch)
            if mapped is not None:
                decider.apply(*mapped, batch)
            if batch.parked:
                outcome, resolved = f"still waiting for order {batch.parked[0].order_ref!r}", False
            elif batch.failures:
                outcome, resolved = f"failed again: {batch.failures[0].reason}", False
            else:
                outcome, resolved = "processed", True
        except MappingError as error:
            outcome, resolved = f"failed again: {error}", False
        # An order placed by the replay releases the messages that were waiting for it.
        released = decider.unpark(batch) if resolved else []
        try:
            with self.store.transaction() as cursor:
                if resolved:
                    self.store.append(cursor, batch.workspace.collect())
                    mark_applied(self.store, cursor, [message.position for message, _ in batch.done])
                    self.dead_letters.add(cursor, batch.failures)
                    self.parking.write(cursor, batch.parked, released)
                self.dead_letters.record_replay(cursor, letter.id, outcome, resolved=resolved)
        except BaseException:
            decider.forget()
            raise
        if not resolved:
            decider.forget(batch)  # nothing was saved: aggregates a failed attempt touched must not linger
        return ReplayOutcome(letter.id, resolved, outcome)
