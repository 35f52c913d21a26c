"""The inbox: raw messages recorded durably, once per (system, message id), before processing.

Adapters acknowledge their source only after ``Inbox.record`` has committed, so a crash after
that point loses nothing, and a re-delivery of the same message is counted as a duplicate and
stored no second time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.store import Store

__all__ = ["Inbox", "InboxMessage", "RawMessage", "RecordOutcome"]


@dataclass(frozen=True)
class RawMessage:
    """A message as an adapter received it: the envelope is ``{"headers": …, "body": …}``."""

    system: str
    message_id: str
    envelope: dict[str, Any]
    received_at: datetime


@dataclass(frozen=True)
class InboxMessage:
    position: int
    system: str
    message_id: str
    received_at: datetime
    envelope: dict[str, Any]


@dataclass(frozen=True)
class RecordOutcome:
    stored: int
    duplicates: int


class Inbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, messages: Sequence[RawMessage]) -> RecordOutcome:
        """Store a batch in one transaction; messages already present are skipped."""
        if not messages:
            return RecordOutcome(0, 0)
        rows = [
            (
                m.system,
                m.message_id,
                m.received_at.astimezone(UTC).isoformat(),
                json.dumps(m.envelope, separators=(",", ":"), ensure_ascii=False, default=str),
            )
            for m in messages
        ]
        with self.store.transaction() as cursor:
            self.store.lock(cursor, "hub_inbox")
            if self.store.dialect == "postgres":
                # COPY into a staging table, then one INSERT in arrival order: much cheaper than
                # per-row statements or text arrays for JSON full of quotes.
                cursor.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS hub_inbox_staging (seq INTEGER, system TEXT, "
                    "message_id TEXT, received_at TEXT, envelope TEXT) ON COMMIT DELETE ROWS"
                )
                with cursor.copy(
                    "COPY hub_inbox_staging (seq, system, message_id, received_at, envelope) FROM STDIN"
                ) as copy:
                    for seq, row in enumerate(rows):
                        copy.write_row((seq, *row))
                cursor.execute(
                    "INSERT INTO hub_inbox (system, message_id, received_at, envelope) "
                    "SELECT system, message_id, received_at, envelope FROM hub_inbox_staging "
                    "ORDER BY seq ON CONFLICT (system, message_id) DO NOTHING"
                )
            else:
                cursor.executemany(
                    "INSERT INTO hub_inbox (system, message_id, received_at, envelope) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (system, message_id) DO NOTHING",
                    rows,
                )
            stored = self.store.rowcount(cursor)
        return RecordOutcome(stored, len(messages) - stored)

    def after(self, position: int, limit: int) -> list[InboxMessage]:
        rows = self.store.query(
            "SELECT position, system, message_id, received_at, envelope FROM hub_inbox "
            "WHERE position > ? ORDER BY position LIMIT ?",
            (position, limit),
        )
        return [_message(row) for row in rows]

    def at(self, positions: Sequence[int]) -> list[InboxMessage]:
        if not positions:
            return []
        marks = ",".join("?" * len(positions))
        rows = self.store.query(
            "SELECT position, system, message_id, received_at, envelope FROM hub_inbox "
            f"WHERE position IN ({marks}) ORDER BY position",
            list(positions),
        )
        return [_message(row) for row in rows]

    def count_after(self, position: int = 0) -> int:
        """Messages after a position (PostgreSQL sequences leave gaps, so not head - position)."""
        rows = self.store.query("SELECT COUNT(*) AS n FROM hub_inbox WHERE position > ?", (position,))
        return int(rows[0]["n"])

    def head(self) -> int:
        rows = self.store.query("SELECT MAX(position) AS head FROM hub_inbox")
        return rows[0]["head"] or 0


def _message(row: Any) -> InboxMessage:
    return InboxMessage(
        position=row["position"],
        system=row["system"],
        message_id=row["message_id"],
        received_at=datetime.fromisoformat(row["received_at"]),
        envelope=json.loads(row["envelope"]),
    )
