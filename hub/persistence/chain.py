"""What both recorders share: the chain table, the append-only triggers, the links of a batch,
and the calls a unit of work makes inside a transaction the hub opened."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent, Tracking

from hub.audit.chain import GENESIS, link

CHAIN_TABLE = "hub_chain"


def chain_table(blob: str) -> str:
    return f"CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} (position BIGINT PRIMARY KEY, link {blob} NOT NULL)"


def append_only(dialect: str, tables: Sequence[str]) -> list[str]:
    """Triggers that refuse UPDATE and DELETE (and TRUNCATE) on the log and its chain, whoever
    asks: changing history takes an owner who first drops them, and the chain shows it."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'hub: {operation} on {table} refused: the log is append-only'); END"
            for table in tables
            for operation in ("UPDATE", "DELETE")
        ]
    statements = [
        "CREATE OR REPLACE FUNCTION hub_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'hub: % on % refused: the log is append-only', TG_OP, TG_TABLE_NAME; END $$"
    ]
    for table in tables:
        name = table.split(".")[-1]
        statements.append(
            f"CREATE OR REPLACE TRIGGER {name}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION hub_append_only()"
        )
    return statements


class ChainedRecording:
    """Mixed into a process recorder of eventsourcing: links inserted events into the chain and
    offers the unit of work its calls on a cursor of the hub's own transaction (events, tracking
    and the hub's rows commit together, the basis of exactly-once processing)."""

    def record(self, cursor: Any, stored: Sequence[StoredEvent], tracking: Tracking | None) -> list[int]:
        """Insert events and a tracking position; the events' notification ids, in order."""
        raise NotImplementedError

    def track(self, cursor: Any, tracking: Tracking) -> None:
        self._insert_tracking(cursor, tracking)  # type: ignore[attr-defined]

    def position_in(self, cursor: Any, name: str) -> int:
        return self._max_tracking_id(name, cursor) or 0  # type: ignore[attr-defined]

    def links(
        self, cursor: Any, stored: Sequence[StoredEvent], ids: Sequence[int]
    ) -> list[tuple[int, bytes]]:
        """Each inserted event's position and link, continuing from the newest link (read under
        the writers' lock the insert took, so no other writer is between)."""
        cursor.execute(f"SELECT link FROM {CHAIN_TABLE} ORDER BY position DESC LIMIT 1")
        row = cursor.fetchone()
        previous = bytes(row["link"]) if row else GENESIS
        found = []
        for position, event in zip(ids, stored, strict=True):
            previous = link(
                previous, position, event.originator_id, event.originator_version, event.topic, event.state
            )
            found.append((position, previous))
        return found
