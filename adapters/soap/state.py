"""Durable adapter state: each entity's cursor and health, each source's circuit breaker.

The cursor is written in the transaction that stores the page in the inbox (``save_cursor``
takes the caller's cursor), so after a crash the adapter re-reads at most the page it was on;
health and the circuit are written on their own, because a failure has nothing to commit with.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.store import Store

__all__ = ["CIRCUIT", "POLLING", "AdapterState", "EntityState", "lease_owner"]

# Rows of a source's own state; entity names of sources never start with *.
CIRCUIT = "*"  # the circuit breaker
POLLING = "*polling"  # the lease of the hub that polls it now


@dataclass
class EntityState:
    system: str
    entity: str
    cursor: dict[str, Any] | None
    last_success_at: str | None
    last_error: str | None
    last_error_at: str | None
    failures: int
    circuit: str
    opened_at: str | None
    records: int
    polls: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _now() -> str:
    return datetime.now(UTC).isoformat()


TABLES = (
    """CREATE TABLE IF NOT EXISTS hub_adapter_state (
        system TEXT NOT NULL,
        entity TEXT NOT NULL,
        cursor TEXT,
        last_success_at TEXT,
        last_error TEXT,
        last_error_at TEXT,
        failures INTEGER NOT NULL DEFAULT 0,
        circuit TEXT NOT NULL DEFAULT 'closed',
        opened_at TEXT,
        records BIGINT NOT NULL DEFAULT 0,
        polls BIGINT NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_until TEXT,
        PRIMARY KEY (system, entity))""",
)


class AdapterState:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure(*TABLES)

    def _ensure(self, cursor: Any, system: str, entity: str) -> None:
        self.store.execute(
            cursor,
            "INSERT INTO hub_adapter_state (system, entity) VALUES (?, ?) "
            "ON CONFLICT (system, entity) DO NOTHING",
            (system, entity),
        )

    def recorded(self) -> list[tuple[str, str]]:
        """(system, entity) of every row on record, in order."""
        rows = self.store.query("SELECT system, entity FROM hub_adapter_state ORDER BY system, entity")
        return [(row["system"], row["entity"]) for row in rows]

    def load(self, system: str, entity: str) -> EntityState:
        rows = self.store.query(
            "SELECT * FROM hub_adapter_state WHERE system = ? AND entity = ?", (system, entity)
        )
        if not rows:
            return EntityState(system, entity, None, None, None, None, 0, "closed", None, 0, 0)
        return _state(rows[0])

    def _update(
        self, cursor: Any, system: str, entity: str, assignments: str, values: tuple[Any, ...]
    ) -> None:
        self._ensure(cursor, system, entity)
        self.store.execute(
            cursor,
            f"UPDATE hub_adapter_state SET {assignments} WHERE system = ? AND entity = ?",
            (*values, system, entity),
        )

    def _set(self, system: str, entity: str, assignments: str, values: tuple[Any, ...]) -> None:
        with self.store.transaction() as cursor:
            self._update(cursor, system, entity, assignments, values)

    def save_cursor(
        self, cursor: Any, system: str, entity: str, position: dict[str, Any], stored: int
    ) -> None:
        """Advance the cursor inside the transaction that stored the page."""
        self._update(
            cursor,
            system,
            entity,
            "cursor = ?, records = records + ?",
            (json.dumps(position, sort_keys=True), stored),
        )

    def succeeded(self, system: str, entity: str) -> None:
        self._set(system, entity, "last_success_at = ?, failures = 0, polls = polls + 1", (_now(),))

    def failed(self, system: str, entity: str, error: str) -> int:
        """Record a failed poll; returns the failures in a row."""
        self._set(
            system,
            entity,
            "last_error = ?, last_error_at = ?, failures = failures + 1, polls = polls + 1",
            (error, _now()),
        )
        return self.load(system, entity).failures

    # -- circuit breaker -------------------------------------------------------------------------

    def circuit_allows(self, system: str, reset_after: timedelta, now: datetime | None = None) -> bool:
        """Closed, or open long enough that one trial poll may go (half-open)."""
        state = self.load(system, CIRCUIT)
        if state.circuit == "closed" or state.opened_at is None:
            return True
        now = now or datetime.now(UTC)
        return now - datetime.fromisoformat(state.opened_at) >= reset_after

    def trip(self, system: str, threshold: int, error: str) -> bool:
        """Count a failed poll of the source; opens the circuit at the threshold. True if open."""
        if self.failed(system, CIRCUIT, error) < threshold:
            return False
        self.set_circuit(system, CIRCUIT, "open")
        return True

    def lease(
        self,
        system: str,
        entity: str,
        owner: str,
        seconds: float,
        gone: Callable[[str], bool] | None = None,
    ) -> str | None:
        """Take or extend the right to act for (system, entity); None if ours, else who holds it.

        Two hubs that both sent an order before either recorded the answer would create it twice;
        the lease makes one of them wait. A holder that died loses it when it runs out, or at once
        when ``gone`` recognises it (a process of this machine that no longer exists).
        """
        now = datetime.now(UTC)
        with self.store.transaction() as cursor:
            self._ensure(cursor, system, entity)
            self.store.execute(
                cursor,
                "SELECT lease_owner, lease_until FROM hub_adapter_state WHERE system = ? AND entity = ?",
                (system, entity),
            )
            holder = cursor.fetchone()
            current = holder["lease_owner"] if holder else None
            free = current is None or current == owner or (gone or _ended)(current)
            if not free and holder["lease_until"] >= now.isoformat():
                return f"{current} until {holder['lease_until']}"
            self.store.execute(
                cursor,
                "UPDATE hub_adapter_state SET lease_owner = ?, lease_until = ? "
                "WHERE system = ? AND entity = ? AND COALESCE(lease_owner, '') = ?",
                (owner, (now + timedelta(seconds=seconds)).isoformat(), system, entity, current or ""),
            )
            if not self.store.rowcount(cursor):  # taken by another between our read and write
                return "another process"
        return None

    def release(self, system: str, entity: str, owner: str) -> None:
        with self.store.transaction() as cursor:
            self.store.execute(
                cursor,
                "UPDATE hub_adapter_state SET lease_owner = NULL, lease_until = NULL "
                "WHERE system = ? AND entity = ? AND lease_owner = ?",
                (system, entity, owner),
            )

    def set_circuit(self, system: str, entity: str, circuit: str) -> None:
        self._set(
            system, entity, "circuit = ?, opened_at = ?", (circuit, None if circuit == "closed" else _now())
        )

    def reset(self, system: str) -> None:
        self._set(
            system,
            CIRCUIT,
            "circuit = 'closed', opened_at = NULL, failures = 0, last_success_at = ?, polls = polls + 1",
            (_now(),),
        )


def lease_owner(holder: object) -> str:
    """Who holds a lease: this machine, this process, this object."""
    return f"{socket.gethostname()}:{os.getpid()}:{id(holder):x}"


def _ended(owner: str) -> bool:
    """Whether a lease holder is a process of this machine that has ended (killed, crashed)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _state(row: Any) -> EntityState:
    return EntityState(
        system=row["system"],
        entity=row["entity"],
        cursor=json.loads(row["cursor"]) if row["cursor"] else None,
        last_success_at=row["last_success_at"],
        last_error=row["last_error"],
        last_error_at=row["last_error_at"],
        failures=row["failures"],
        circuit=row["circuit"],
        opened_at=row["opened_at"],
        records=row["records"],
        polls=row["polls"],
    )
