"""Messages that wait for an order not seen yet (a payment before its order), in ``hub_parked``.

Rows are written and released inside the processing transaction that parks or re-drives them,
so a message is either waiting or applied, never both and never neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from hub.inbox import InboxMessage
from hub.store import Store

__all__ = ["Parked", "ParkingLot"]

TABLES = (
    """CREATE TABLE IF NOT EXISTS hub_parked (
        inbox_position BIGINT PRIMARY KEY,
        system TEXT NOT NULL,
        message_id TEXT NOT NULL,
        awaiting TEXT NOT NULL,
        awaiting_ref TEXT NOT NULL,
        received_at TEXT NOT NULL,
        parked_at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS hub_parked_awaiting ON hub_parked (awaiting)",
)


@dataclass
class Parked:
    message: InboxMessage
    awaiting: UUID
    order_ref: str


class ParkingLot:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure(*TABLES)

    def waiting_for(self, orders: Sequence[UUID]) -> dict[int, str]:
        """Inbox position → order reference of the stored messages waiting for these orders."""
        if not orders:
            return {}
        with self.store.reading() as cursor:
            rows = self.store.select_in(
                cursor,
                "SELECT inbox_position, awaiting_ref FROM hub_parked WHERE awaiting IN ({marks})",
                [key.hex for key in orders],
            )
        return {row["inbox_position"]: row["awaiting_ref"] for row in rows}

    def write(self, cursor: Any, parked: Sequence[Parked], released: Sequence[int]) -> None:
        """Park and release in the caller's transaction (a message parked twice stays once)."""
        now = datetime.now(UTC).isoformat()
        if parked:
            cursor.executemany(
                self.store.sql(
                    "INSERT INTO hub_parked (inbox_position, system, message_id, awaiting, awaiting_ref, "
                    "received_at, parked_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (inbox_position) DO NOTHING"
                ),
                [
                    (
                        p.message.position,
                        p.message.system,
                        p.message.message_id,
                        p.awaiting.hex,
                        p.order_ref,
                        p.message.received_at.isoformat(),
                        now,
                    )
                    for p in parked
                ],
            )
        if released:
            self.store.execute_in(
                cursor, "DELETE FROM hub_parked WHERE inbox_position IN ({marks})", list(released)
            )

    def received_before(self, cutoff: datetime) -> list[Any]:
        return self.store.query(
            "SELECT inbox_position, awaiting_ref, received_at FROM hub_parked WHERE received_at < ?",
            (cutoff.isoformat(),),
        )

    def count(self) -> int:
        return int(self.store.query("SELECT COUNT(*) AS n FROM hub_parked")[0]["n"])

    def listing(self) -> list[Any]:
        return self.store.query(
            "SELECT inbox_position, system, message_id, awaiting, awaiting_ref, received_at, parked_at "
            "FROM hub_parked ORDER BY inbox_position"
        )
