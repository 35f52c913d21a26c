"""The inbox: raw messages recorded durably, once per (system, message id), before processing.

Adapters acknowledge their source only after ``Inbox.record`` has committed, so a crash after
that point loses nothing, and a re-delivery of the same message is counted as a duplicate and
stored no second time.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.accounting import count_duplicates, ensure_ledger
from hub.store import Store

__all__ = ["Inbox", "InboxMessage", "RawMessage", "RecordOutcome", "received_at"]


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


TABLES = (
    """CREATE TABLE IF NOT EXISTS hub_inbox (
        position {serial} PRIMARY KEY,
        system TEXT NOT NULL,
        message_id TEXT NOT NULL,
        received_at TEXT NOT NULL,
        envelope TEXT NOT NULL,
        UNIQUE (system, message_id))""",
)


class Inbox:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure(*TABLES)
        ensure_ledger(store)  # the duplicate counters the inbox writes to

    def record(
        self, messages: Sequence[RawMessage], also: Callable[[Any], None] | None = None
    ) -> RecordOutcome:
        """Store a batch in one transaction; messages already present are skipped.

        ``also`` runs in the same transaction: an adapter's cursor commits with the page it read.
        """
        if not messages and also is None:
            return RecordOutcome(0, 0)
        with self.store.transaction() as cursor:
            stored = 0
            if messages:
                # Positions must become visible in order for the processor that follows them.
                self.store.lock(cursor, "hub_inbox")
                systems = {m.system for m in messages}
                if len(systems) == 1:
                    self._insert(cursor, messages, returning=False)
                    stored = self.store.rowcount(cursor)
                    count_duplicates(self.store, cursor, Counter({systems.pop(): len(messages) - stored}))
                else:
                    stored = len(self._count_new(cursor, messages))
            if also is not None:
                also(cursor)
        return RecordOutcome(stored, len(messages) - stored)

    def _count_new(self, cursor: Any, messages: Sequence[RawMessage]) -> set[tuple[str, str]]:
        """Insert, count the skipped repeats per system, and return the keys that were new."""
        rows = self._insert(cursor, messages, returning=True)
        fresh = {(row["system"], row["message_id"]) for row in rows}
        repeats: Counter[str] = Counter()
        unseen = set(fresh)
        for m in messages:
            if (m.system, m.message_id) in unseen:
                unseen.discard((m.system, m.message_id))
            else:
                repeats[m.system] += 1
        count_duplicates(self.store, cursor, repeats)
        return fresh

    def record_groups(
        self, groups: Sequence[Sequence[RawMessage]], also: Callable[[Any], None] | None = None
    ) -> list[RecordOutcome]:
        """Several callers' messages in one transaction (``GroupCommit``): each caller's
        outcome, a message counted as stored for the first caller that sent it."""
        messages = [m for group in groups for m in group]
        if not messages:
            return [RecordOutcome(0, 0) for _ in groups]
        with self.store.transaction() as cursor:
            self.store.lock(cursor, "hub_inbox")
            fresh = self._count_new(cursor, messages)
            if also is not None:
                also(cursor)
        outcomes = []
        for group in groups:
            stored = 0
            for m in group:
                if (m.system, m.message_id) in fresh:
                    fresh.discard((m.system, m.message_id))
                    stored += 1
            outcomes.append(RecordOutcome(stored, len(group) - stored))
        return outcomes

    def insert_new(self, cursor: Any, messages: Sequence[RawMessage]) -> list[InboxMessage]:
        """Store messages in the caller's transaction and return those that were new.

        The streaming worker processes exactly what this returns in the same transaction, so
        "new in the inbox" and "not processed yet" are one fact, whatever Kafka redelivers.
        """
        if not messages:
            return []
        rows = self._insert(cursor, messages, returning=True)
        by_key = {(m.system, m.message_id): m for m in messages}
        repeats = Counter(m.system for m in messages)
        repeats.subtract(row["system"] for row in rows)
        count_duplicates(self.store, cursor, repeats)
        fresh = []
        for row in rows:
            message = by_key[(row["system"], row["message_id"])]
            fresh.append(
                InboxMessage(
                    row["position"], message.system, message.message_id, message.received_at, message.envelope
                )
            )
        fresh.sort(key=lambda m: m.position)
        return fresh

    def _insert(self, cursor: Any, messages: Sequence[RawMessage], *, returning: bool) -> list[Any]:
        rows = [
            (
                m.system,
                m.message_id,
                m.received_at.astimezone(UTC).isoformat(),
                json.dumps(m.envelope, separators=(",", ":"), ensure_ascii=False, default=str),
            )
            for m in messages
        ]
        suffix = " RETURNING position, system, message_id" if returning else ""
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
                "ORDER BY seq ON CONFLICT (system, message_id) DO NOTHING" + suffix
            )
            return list(cursor.fetchall()) if returning else []
        statement = (
            "INSERT INTO hub_inbox (system, message_id, received_at, envelope) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (system, message_id) DO NOTHING"
        )
        cursor.executemany(statement, rows)
        if not returning:
            return []
        # sqlite3 cannot combine executemany with RETURNING; SQLite has one writer, so the rows
        # this statement inserted are the newest ones: read them back in one query.
        cursor.execute(
            "SELECT position, system, message_id FROM hub_inbox ORDER BY position DESC LIMIT ?",
            (self.store.rowcount(cursor),),
        )
        return list(reversed(cursor.fetchall()))

    def envelope(self, system: str | None, message_id: str | None) -> Any:
        """A message as received (None when the inbox does not hold it)."""
        rows = self.store.query(
            "SELECT envelope FROM hub_inbox WHERE system = ? AND message_id = ?", (system, message_id)
        )
        return json.loads(rows[0]["envelope"]) if rows else None

    def redact(self, cursor: Any, messages: set[tuple[str, str]], identifiers: set[str], marker: str) -> int:
        return redact_envelopes(self.store, cursor, "hub_inbox", messages, identifiers, marker)

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


def received_at(envelope: dict[str, Any], default: datetime) -> datetime:
    """A captured envelope keeps its original receipt time; a new message is received now."""
    given = envelope.get("received_at")
    if not isinstance(given, str):
        return default
    try:
        moment = datetime.fromisoformat(given)
    except ValueError:
        return default
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _message(row: Any) -> InboxMessage:
    return InboxMessage(
        position=row["position"],
        system=row["system"],
        message_id=row["message_id"],
        received_at=datetime.fromisoformat(row["received_at"]),
        envelope=json.loads(row["envelope"]),
    )


def redact_envelopes(
    store: Store, cursor: Any, table: str, messages: set[tuple[str, str]], identifiers: set[str], marker: str
) -> int:
    """Overwrite with ``marker`` the stored envelopes of these messages and any envelope that
    names one of the identifiers (an erased person's raw data, in the caller's transaction)."""
    changed = 0
    for system, message_id in sorted(messages):
        store.execute(
            cursor,
            f"UPDATE {table} SET envelope = ? WHERE system = ? AND message_id = ?",
            (marker, system, message_id),
        )
        changed += store.rowcount(cursor)
    for identifier in sorted(identifiers):
        store.execute(
            cursor,
            f"UPDATE {table} SET envelope = ? WHERE envelope LIKE ? AND envelope <> ?",
            (marker, f"%{identifier}%", marker),
        )
        changed += store.rowcount(cursor)
    return changed
