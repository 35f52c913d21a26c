"""Accounting: every message the hub was handed, and where it is now.

Two balances per source system, which must both be zero:

* received = stored + duplicates + refused at the door (a 4xx answer, or input that never
  became a message: an unreadable file line, an unreadable Kafka record);
* stored = applied + dead-lettered + waiting (parked for its order, or not processed yet).

"Applied" is a fact of its own, not what is left over: the processing transaction that applies a
message also writes its inbox position into ``hub_applied``, so a message that processing passed
over without an outcome shows up as *unaccounted*, and one with two outcomes as *doubled*; both
are listed by position. Duplicates and refusals are counted in ``hub_receipts`` (per hour): the
duplicates in the inbox transaction that found them; the refusals, which must not cost a write
each (a flood of forged webhooks), in the next inbox transaction or at the latest when the
hub flushes its tally (``RefusalTally.flush``), so a crash can lose a few refusal counts, never a
message's.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.store import Store

__all__ = [
    "Accounting",
    "AccountingReport",
    "RefusalTally",
    "SystemAccount",
    "count_duplicates",
    "ensure_ledger",
    "mark_applied",
]

UNKNOWN_SYSTEM = "(unknown)"  # refusals for a system that is not configured share one row

TABLES = (
    """CREATE TABLE IF NOT EXISTS hub_receipts (
        system TEXT NOT NULL,
        hour TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT NOT NULL,
        n BIGINT NOT NULL,
        PRIMARY KEY (system, hour, outcome, reason))""",
    # SQLite: an INTEGER PRIMARY KEY is the row id itself, the narrowest table there is.
    "CREATE TABLE IF NOT EXISTS hub_applied (position {integer_key} PRIMARY KEY)",
    """CREATE TABLE IF NOT EXISTS hub_accounting_start (
        position BIGINT NOT NULL,
        started_at TEXT NOT NULL)""",
)

_LISTED = 20  # unaccounted or doubled messages listed by position, per report


def _hour(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H")


def _count(store: Store, cursor: Any, rows: Iterable[tuple[str, str, str, int]]) -> None:
    """Add ``(system, outcome, reason, n)`` to this hour's counters in the caller's transaction."""
    hour = _hour()
    values = [(system, hour, outcome, reason, n) for system, outcome, reason, n in rows if n]
    if not values:
        return
    cursor.executemany(
        store.sql(
            "INSERT INTO hub_receipts (system, hour, outcome, reason, n) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (system, hour, outcome, reason) DO UPDATE SET n = hub_receipts.n + excluded.n"
        ),
        values,
    )


def count_duplicates(store: Store, cursor: Any, duplicates: Counter[str]) -> None:
    """Redeliveries the inbox skipped, by system, in the inbox's own transaction."""
    _count(store, cursor, ((system, "duplicate", "", n) for system, n in sorted(duplicates.items())))


def mark_applied(store: Store, cursor: Any, positions: Sequence[int]) -> None:
    """Inbox positions whose messages this transaction applied (written with their events)."""
    wanted = [p for p in positions if p]
    if not wanted:
        return
    if store.dialect == "postgres":
        cursor.execute(
            "INSERT INTO hub_applied (position) SELECT unnest(%s::bigint[]) ON CONFLICT DO NOTHING",
            (wanted,),
        )
    else:
        cursor.executemany("INSERT OR IGNORE INTO hub_applied (position) VALUES (?)", [(p,) for p in wanted])


class RefusalTally:
    """Requests refused at the door, counted in memory until an inbox transaction takes them."""

    def __init__(self, store: Store, systems: Iterable[str]) -> None:
        self.store = store
        self.systems = frozenset(systems)
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, system: str, code: str) -> str:
        """Count one refusal; returns the system name it was counted under (a name nobody
        configured is not a row of its own, or a caller could grow the table at will)."""
        counted = system if system in self.systems else UNKNOWN_SYSTEM
        with self._lock:
            self._counts[(counted, code)] += 1
        return counted

    def write(self, cursor: Any) -> None:
        """Write what was counted in the caller's transaction (an inbox commit)."""
        with self._lock:
            taken, self._counts = self._counts, Counter()
        try:
            _count(self.store, cursor, ((s, "refused", code, n) for (s, code), n in sorted(taken.items())))
        except BaseException:
            with self._lock:
                self._counts.update(taken)  # the transaction failed: count them again next time
            raise

    def flush(self) -> None:
        with self._lock:
            pending = bool(self._counts)
        if pending:
            with self.store.transaction() as cursor:
                self.write(cursor)


@dataclass
class SystemAccount:
    system: str
    stored: int = 0
    duplicates: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # reason → count
    applied: int = 0
    applied_before_accounting: int = 0  # processed before the ledger existed, no outcome of its own
    dead_lettered: int = 0
    parked: int = 0
    unprocessed: int = 0
    unaccounted: int = 0
    doubled: int = 0

    @property
    def received(self) -> int:
        return self.stored + self.duplicates + sum(self.refused.values())

    @property
    def waiting(self) -> int:
        return self.parked + self.unprocessed

    @property
    def difference(self) -> int:
        """stored - (applied + dead-lettered + waiting): zero when every message has one place."""
        return self.stored - (
            self.applied + self.applied_before_accounting + self.dead_lettered + self.waiting
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "refused": sum(self.refused.values()),
            "refused_by_reason": dict(sorted(self.refused.items())),
            "applied": self.applied,
            "applied_before_accounting": self.applied_before_accounting,
            "dead_lettered": self.dead_lettered,
            "waiting": self.waiting,
            "parked": self.parked,
            "unprocessed": self.unprocessed,
            "unaccounted": self.unaccounted,
            "doubled": self.doubled,
            "difference": self.difference,
        }


@dataclass
class AccountingReport:
    since: str | None
    accounting_began_at: str
    systems: list[SystemAccount]
    unaccounted: list[dict[str, Any]]  # the first messages with no outcome, by position
    doubled: list[dict[str, Any]]  # the first messages with more than one

    @property
    def balanced(self) -> bool:
        return (
            not self.unaccounted
            and not self.doubled
            and all(s.difference == 0 and s.unaccounted == 0 and s.doubled == 0 for s in self.systems)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "accounting_began_at": self.accounting_began_at,
            "balanced": self.balanced,
            "systems": [s.as_dict() for s in self.systems],
            "unaccounted": self.unaccounted,
            "doubled": self.doubled,
        }


# One row per stored message with each of its possible places as a 0/1 flag; the report sums
# them per system and lists the rows with none or more than one.
_PLACES = """
    SELECT i.position, i.system, i.message_id,
        CASE WHEN a.position IS NULL THEN 0 ELSE 1 END AS applied,
        CASE WHEN d.inbox_position IS NULL THEN 0 ELSE 1 END AS dead,
        CASE WHEN p.inbox_position IS NULL THEN 0 ELSE 1 END AS parked,
        CASE WHEN i.position > ? THEN 1 ELSE 0 END AS unprocessed,
        CASE WHEN i.position <= ? THEN 1 ELSE 0 END AS early
    FROM hub_inbox i
    LEFT JOIN hub_applied a ON a.position = i.position
    LEFT JOIN (SELECT DISTINCT inbox_position FROM hub_dead_letters
               WHERE status <> 'resolved' AND inbox_position IS NOT NULL) d
        ON d.inbox_position = i.position
    LEFT JOIN hub_parked p ON p.inbox_position = i.position
    WHERE i.received_at >= ?
"""


def _inbox_head(store: Store) -> int:
    """``Inbox.head`` (the inbox imports this module, so it cannot be imported here)."""
    return int(store.query("SELECT MAX(position) AS head FROM hub_inbox")[0]["head"] or 0)


def ensure_ledger(store: Store) -> None:
    """Create the ledger's tables, and note where it began: messages processed before it have no
    row of their own (a database older than the ledger)."""
    store.ensure(
        *(t.replace("{integer_key}", "INTEGER" if store.dialect == "sqlite" else "BIGINT") for t in TABLES)
    )
    if store.query("SELECT 1 FROM hub_accounting_start"):
        return
    # The inbox head, not the processor's position: a streaming worker's database has none, and
    # a message stored before but applied after gets its own row, which counts first.
    position = _inbox_head(store)
    with store.transaction() as cursor:
        store.execute(
            cursor,
            "INSERT INTO hub_accounting_start (position, started_at) SELECT ?, ? "
            "WHERE NOT EXISTS (SELECT 1 FROM hub_accounting_start)",
            (position, datetime.now(UTC).isoformat()),
        )


class Accounting:
    def __init__(self, store: Store, processor_name: str = "processor") -> None:
        self.store = store
        self.processor_name = processor_name
        ensure_ledger(store)

    def report(self, since: datetime | None = None, *, streaming: bool = False) -> AccountingReport:
        """Both balances per system for the messages received since ``since`` (all by default).

        ``streaming``: workers store and process a message in one transaction, so nothing in the
        inbox is "not processed yet" and the processor's own position means nothing.
        """
        start = self.store.query(
            "SELECT MIN(position) AS position, MIN(started_at) AS at FROM hub_accounting_start"
        )
        began_at, before = start[0]["at"], int(start[0]["position"] or 0)
        processed = _inbox_head(self.store) if streaming else self.store.position(self.processor_name)
        floor = since.astimezone(UTC).isoformat() if since else ""
        hour = _hour(since) if since else ""
        accounts: dict[str, SystemAccount] = {}

        def account(system: str) -> SystemAccount:
            return accounts.setdefault(system, SystemAccount(system))

        sums = self.store.query(
            "SELECT system, COUNT(*) AS stored, SUM(applied) AS applied, SUM(dead) AS dead, "
            "SUM(parked) AS parked, SUM(unprocessed * (1 - parked)) AS unprocessed, "
            "SUM(CASE WHEN early = 1 AND applied + dead + parked + unprocessed = 0 THEN 1 ELSE 0 END) "
            "AS early, "
            "SUM(CASE WHEN applied + dead + parked + unprocessed = 0 AND early = 0 THEN 1 ELSE 0 END) "
            "AS unaccounted, "
            "SUM(CASE WHEN applied + dead + parked + unprocessed * (1 - parked) > 1 THEN 1 ELSE 0 END) "
            f"AS doubled FROM ({_PLACES}) places GROUP BY system",
            (processed, before, floor),
        )
        for row in sums:
            entry = account(row["system"])
            entry.stored = int(row["stored"])
            entry.applied = int(row["applied"] or 0)
            entry.dead_lettered = int(row["dead"] or 0)
            entry.parked = int(row["parked"] or 0)
            entry.unprocessed = int(row["unprocessed"] or 0)
            entry.applied_before_accounting = int(row["early"] or 0)
            entry.unaccounted = int(row["unaccounted"] or 0)
            entry.doubled = int(row["doubled"] or 0)
        for row in self.store.query(
            "SELECT system, outcome, reason, SUM(n) AS n FROM hub_receipts WHERE hour >= ? "
            "GROUP BY system, outcome, reason",
            (hour,),
        ):
            entry = account(row["system"])
            if row["outcome"] == "duplicate":
                entry.duplicates += int(row["n"])
            else:
                entry.refused[row["reason"]] = entry.refused.get(row["reason"], 0) + int(row["n"])
        # Input that never became a message was dead-lettered at the door: refused, with its stage.
        for row in self.store.query(
            "SELECT system, stage, COUNT(*) AS n FROM hub_dead_letters "
            "WHERE inbox_position IS NULL AND created_at >= ? GROUP BY system, stage",
            (floor,),
        ):
            reason = f"dead letter ({row['stage']})"
            entry = account(row["system"])
            entry.refused[reason] = entry.refused.get(reason, 0) + int(row["n"])
        # The second pass over the inbox names the messages out of place; a balanced one has none.
        out_of_place = any(a.unaccounted or a.doubled for a in accounts.values())
        listed = self._out_of_place(processed, before, floor) if out_of_place else []
        unaccounted, doubled = [], []
        for row in listed:
            places = [name for name in ("applied", "dead", "parked", "unprocessed") if row[name]]
            item = {"position": row["position"], "system": row["system"], "message_id": row["message_id"]}
            if places:
                doubled.append({**item, "places": places})
            else:
                unaccounted.append(item)
        return AccountingReport(
            since=floor or None,
            accounting_began_at=began_at,
            systems=[accounts[name] for name in sorted(accounts)],
            unaccounted=unaccounted[:_LISTED],
            doubled=doubled[:_LISTED],
        )

    def _out_of_place(self, processed: int, before: int, floor: str) -> list[Any]:
        return self.store.query(
            "SELECT position, system, message_id, applied, dead, parked, unprocessed, early "
            f"FROM ({_PLACES}) places WHERE (applied + dead + parked + unprocessed = 0 AND early = 0) "
            "OR applied + dead + parked + unprocessed * (1 - parked) > 1 ORDER BY position LIMIT ?",
            (processed, before, floor, _LISTED * 2),
        )
