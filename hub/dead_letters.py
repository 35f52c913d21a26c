"""Dead letters: messages the hub could not use, kept with the reason and the raw payload.

A dead letter never blocks the messages behind it. After the cause is fixed (usually a mapping),
``replay`` re-drives it and records the outcome on the same row, so the history of every failed
message stays visible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.inbox import redact_envelopes
from hub.store import Store

__all__ = ["DeadLetter", "DeadLetters", "Failure"]


@dataclass(frozen=True)
class Failure:
    """Why a message could not be processed; ``stage`` says which step refused it."""

    system: str
    message_id: str
    stage: str  # parse | mapping | domain | parking | error (an unforeseen failure: a bug)
    reason: str
    envelope: dict[str, Any]
    inbox_position: int | None = None
    mapping: str | None = None


@dataclass(frozen=True)
class DeadLetter:
    id: int
    system: str
    message_id: str
    inbox_position: int | None
    stage: str
    reason: str
    mapping: str | None
    envelope: dict[str, Any]
    created_at: str
    status: str
    replays: int
    last_replay_at: str | None
    last_outcome: str | None

    def to_json(self, *, with_payload: bool = False) -> dict[str, Any]:
        data = {
            "id": self.id,
            "system": self.system,
            "message_id": self.message_id,
            "inbox_position": self.inbox_position,
            "stage": self.stage,
            "reason": self.reason,
            "mapping": self.mapping,
            "created_at": self.created_at,
            "status": self.status,
            "replays": self.replays,
            "last_replay_at": self.last_replay_at,
            "last_outcome": self.last_outcome,
        }
        if with_payload:
            data["envelope"] = self.envelope
        return data


_COLUMNS = (
    "id, system, message_id, inbox_position, stage, reason, mapping, envelope, created_at, "
    "status, replays, last_replay_at, last_outcome"
)


TABLES = (
    """CREATE TABLE IF NOT EXISTS hub_dead_letters (
        id {serial} PRIMARY KEY,
        system TEXT NOT NULL,
        message_id TEXT NOT NULL,
        inbox_position BIGINT,
        stage TEXT NOT NULL,
        reason TEXT NOT NULL,
        mapping TEXT,
        envelope TEXT NOT NULL,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open',
        replays INTEGER NOT NULL DEFAULT 0,
        last_replay_at TEXT,
        last_outcome TEXT,
        UNIQUE (system, message_id))""",
)


class DeadLetters:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure(*TABLES)

    def add(self, cursor: Any, failures: list[Failure]) -> None:
        """Record failures in the caller's transaction; a re-run records each message once."""
        now = datetime.now(UTC).isoformat()
        for f in failures:
            self.store.execute(
                cursor,
                "INSERT INTO hub_dead_letters (system, message_id, inbox_position, stage, reason, "
                "mapping, envelope, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (system, message_id) DO NOTHING",
                (
                    f.system,
                    f.message_id,
                    f.inbox_position,
                    f.stage,
                    f.reason,
                    f.mapping,
                    json.dumps(f.envelope, ensure_ascii=False, default=str),
                    now,
                ),
            )

    def redact(self, cursor: Any, messages: set[tuple[str, str]], identifiers: set[str], marker: str) -> int:
        return redact_envelopes(self.store, cursor, "hub_dead_letters", messages, identifiers, marker)

    def record_replay(self, cursor: Any, letter_id: int, outcome: str, *, resolved: bool) -> None:
        self.store.execute(
            cursor,
            "UPDATE hub_dead_letters SET replays = replays + 1, last_replay_at = ?, "
            "last_outcome = ?, status = ? WHERE id = ?",
            (datetime.now(UTC).isoformat(), outcome, "resolved" if resolved else "open", letter_id),
        )

    def list(self, status: str | None = "open", system: str | None = None) -> list[DeadLetter]:
        clauses, params = [], []
        if status:
            clauses.append("status = ?")
            params.append(status)
        if system:
            clauses.append("system = ?")
            params.append(system)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.store.query(f"SELECT {_COLUMNS} FROM hub_dead_letters {where} ORDER BY id", params)
        return [_letter(row) for row in rows]

    def get(self, letter_id: int) -> DeadLetter | None:
        rows = self.store.query(f"SELECT {_COLUMNS} FROM hub_dead_letters WHERE id = ?", (letter_id,))
        return _letter(rows[0]) if rows else None

    def count(self, status: str = "open") -> int:
        rows = self.store.query("SELECT COUNT(*) AS n FROM hub_dead_letters WHERE status = ?", (status,))
        return int(rows[0]["n"])


def _letter(row: Any) -> DeadLetter:
    return DeadLetter(
        id=row["id"],
        system=row["system"],
        message_id=row["message_id"],
        inbox_position=row["inbox_position"],
        stage=row["stage"],
        reason=row["reason"],
        mapping=row["mapping"],
        envelope=json.loads(row["envelope"]),
        created_at=row["created_at"],
        status=row["status"],
        replays=row["replays"],
        last_replay_at=row["last_replay_at"],
        last_outcome=row["last_outcome"],
    )
