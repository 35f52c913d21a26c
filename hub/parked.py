"""Messages waiting for their order: listed with what they wait for, dead-lettered when it
never comes (``tracking.parked_timeout_hours``). Parking and releasing happen while deciding
(``deciding.py``), in the processing transaction; the rows are ``parking.ParkingLot``'s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aggregates import order_id
from hub.catalog import MappingCatalog
from hub.contracts import OrderPlaced
from hub.dead_letters import DeadLetters
from hub.deciding import failure_of
from hub.inbox import Inbox
from hub.mapping import MappingError
from hub.metrics import HubMetrics
from hub.parking import ParkingLot
from hub.store import Store

__all__ = ["ParkedMessages"]


class ParkedMessages:
    def __init__(
        self,
        store: Store,
        catalog: MappingCatalog,
        metrics: HubMetrics,
        inbox: Inbox,
        parking: ParkingLot,
        dead_letters: DeadLetters,
    ) -> None:
        self.store, self.catalog, self.metrics = store, catalog, metrics
        self.inbox, self.parking, self.dead_letters = inbox, parking, dead_letters

    def count(self) -> int:
        return self.parking.count()

    def listing(self) -> list[dict[str, Any]]:
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

    def expire(self, timeout: timedelta, now: datetime | None = None) -> int:
        """Dead-letter the messages that waited longer than ``timeout``; returns how many."""
        rows = self.parking.received_before((now or datetime.now(UTC)) - timeout)
        if not rows:
            return 0
        messages = {m.position: m for m in self.inbox.at([r["inbox_position"] for r in rows])}
        failures = [
            failure_of(
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
