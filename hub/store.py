"""The event store and the hub's own tables (inbox, dead letters, read models) in one database.

``eventsourcing`` provides the recorders (SQLite or PostgreSQL, chosen by ``HUB_DATABASE_URL``);
this module opens them and exposes one transaction in which domain events, tracking positions
and the hub's own rows commit together — the basis of exactly-once processing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Notification, ProcessRecorder, Tracking

from hub.audit.chain import GENESIS, link
from hub.privacy.keys import SCHEMA_LOCK, SubjectKeys
from hub.privacy.mapper import PrivacyMapper

__all__ = ["DatabaseUrlError", "Store"]


class DatabaseUrlError(ValueError):
    """A database URL the hub cannot use."""


class _EventLog(Application[UUID]):
    """eventsourcing application used only for its recorder and mapper (no repository use)."""

    name = "hub"

    def construct_recorder(self) -> ProcessRecorder:  # type: ignore[override]
        return self.factory.process_recorder()


SQLITE_CACHE_KIB = 65_536
SQLITE_MMAP_BYTES = 1 << 30


def _larger_page_cache(pool: Any) -> None:
    """Every SQLite connection keeps 64 MiB of pages instead of SQLite's 2 MiB: the indexes that
    identity resolution and the projections probe at random stay in memory as the database grows
    (the per-record cost of resolution grew 1.7x from 10k to 30k records with 2 MiB, 1.3x with 64).
    Beyond that, the first GiB of the file is read through a memory map: a page the operating
    system holds costs no read call and no copy."""
    create = pool._create_connection

    def tune(connection: Any) -> Any:
        connection._sqlite_conn.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        connection._sqlite_conn.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        return connection

    pool._create_connection = lambda: tune(create())
    for idle in list(pool._pool):  # opened while eventsourcing created its tables
        tune(idle)


_HUB_TABLES = [
    """CREATE TABLE IF NOT EXISTS hub_inbox (
        position {serial} PRIMARY KEY,
        system TEXT NOT NULL,
        message_id TEXT NOT NULL,
        received_at TEXT NOT NULL,
        envelope TEXT NOT NULL,
        UNIQUE (system, message_id))""",
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
    """CREATE TABLE IF NOT EXISTS hub_parked (
        inbox_position BIGINT PRIMARY KEY,
        system TEXT NOT NULL,
        message_id TEXT NOT NULL,
        awaiting TEXT NOT NULL,
        awaiting_ref TEXT NOT NULL,
        received_at TEXT NOT NULL,
        parked_at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS hub_parked_awaiting ON hub_parked (awaiting)",
    """CREATE TABLE IF NOT EXISTS hub_chain (
        position BIGINT PRIMARY KEY,
        link {blob} NOT NULL)""",
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
    """CREATE TABLE IF NOT EXISTS hub_outbound (
        target TEXT NOT NULL,
        order_id TEXT NOT NULL,
        order_system TEXT NOT NULL,
        order_ref TEXT NOT NULL,
        external_ref TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        target_ref TEXT,
        reason TEXT,
        position BIGINT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (target, order_id))""",
    """CREATE TABLE IF NOT EXISTS hub_processes (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        progressed_at TEXT NOT NULL,
        position BIGINT NOT NULL,
        backlog BIGINT NOT NULL,
        detail TEXT NOT NULL)""",
]


def _append_only(dialect: str, tables: list[str]) -> list[str]:
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


@dataclass(frozen=True)
class DatabaseTarget:
    dialect: str
    env: dict[str, str]
    display: str


def key_store_url(url: str) -> str:
    """The default key store: a file beside a SQLite database, the PostgreSQL database itself."""
    target = parse_database_url(url)
    if target.dialect == "sqlite":
        path = Path(target.env["SQLITE_DBNAME"])
        return f"sqlite:///{path.with_name(path.stem + '.keys.db')}"
    return url


def parse_database_url(url: str) -> DatabaseTarget:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute/path.db, as SQLAlchemy spells them.
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise DatabaseUrlError(f"{url!r}: give a file, e.g. sqlite:///hub.db")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "30",
        }
        return DatabaseTarget("sqlite", env, f"sqlite:///{path}")
    if parts.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        dbname = unquote(parts.path.lstrip("/"))
        # libpq style ?host=/run/postgresql selects a Unix socket directory.
        socket_dir = parse_qs(parts.query).get("host", [None])[0]
        host = socket_dir or parts.hostname or "127.0.0.1"
        if not dbname:
            raise DatabaseUrlError(f"{url!r}: name the database, e.g. postgresql://user@host/hub")
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": host,
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_POOL_SIZE": "4",
            "POSTGRES_MAX_OVERFLOW": "4",
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "60",
            # Tables are created by Store under a lock: processes starting together (a compose
            # file, a test) would otherwise race in CREATE TABLE IF NOT EXISTS.
            "CREATE_TABLE": "no",
        }
        return DatabaseTarget("postgres", env, f"postgresql://{host}:{parts.port or 5432}/{dbname}")
    raise DatabaseUrlError(f"{url!r}: unsupported database URL; use sqlite:///path/hub.db or postgresql://…")


class Store:
    """One database: the event log, tracking positions and the hub's tables."""

    def __init__(self, url: str, keys: SubjectKeys | None = None) -> None:
        self.target = parse_database_url(url)
        self.dialect = self.target.dialect
        self._log = _EventLog(env=self.target.env)
        self.recorder: Any = self._log.recorder
        if self.dialect == "sqlite":
            _larger_page_cache(self.recorder.datastore.pool)
        # With subject keys, personal fields are sealed on the way in and opened on the way out.
        self.keys = keys
        self.mapper: Any = PrivacyMapper(self._log.mapper, keys) if keys else self._log.mapper
        self._events_table = self.recorder.events_table_name
        # eventsourcing names it on PostgreSQL; its SQLite recorder always uses "tracking".
        self.tracking_table: str = getattr(self.recorder, "tracking_table_name", "tracking")
        serial = "INTEGER" if self.dialect == "sqlite" else "BIGSERIAL"
        blob = "BLOB" if self.dialect == "sqlite" else "BYTEA"
        with self.schema_lock():
            if self.dialect == "postgres":
                self.recorder.create_table()
            with self.transaction() as cursor:
                for statement in _HUB_TABLES:
                    cursor.execute(statement.format(serial=serial, blob=blob))
                for statement in _append_only(self.dialect, [self._events_table, "hub_chain"]):
                    cursor.execute(statement)

    def _connect(self) -> Any:
        """A connection of its own (outside eventsourcing's pool), for locks and LISTEN."""
        import psycopg

        env = self.target.env
        return psycopg.connect(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"] or None,
            autocommit=True,
        )

    @contextmanager
    def schema_lock(self) -> Iterator[None]:
        """Held while creating tables, so processes that start together do not race."""
        if self.dialect != "postgres":
            yield
            return
        with self._connect() as connection:
            connection.execute(f"SELECT pg_advisory_lock({SCHEMA_LOCK})")
            try:
                yield
            finally:
                connection.execute(f"SELECT pg_advisory_unlock({SCHEMA_LOCK})")

    # -- transactions --------------------------------------------------------------------------

    def sql(self, statement: str) -> str:
        """Statements are written with ``?`` placeholders; psycopg wants ``%s``."""
        return statement if self.dialect == "sqlite" else statement.replace("?", "%s")

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor in a transaction that commits on success and rolls back on error."""
        with self.recorder.datastore.transaction(commit=True) as cursor:
            yield cursor

    @contextmanager
    def reading(self) -> Iterator[Any]:
        with self.recorder.datastore.transaction(commit=False) as cursor:
            yield cursor

    def execute(self, cursor: Any, statement: str, params: Sequence[Any] = ()) -> Any:
        cursor.execute(self.sql(statement), params)
        return cursor

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        with self.reading() as cursor:
            cursor.execute(self.sql(statement), params)
            return list(cursor.fetchall())

    def select_in(
        self, cursor: Any, statement: str, values: Sequence[Any], extra: Sequence[Any] = ()
    ) -> list[Any]:
        """Rows of ``statement`` (``?`` placeholders, ``{marks}`` where the IN list goes) for many
        values, 500 at a time (SQLite's parameter limit); ``extra`` parameters follow the list."""
        found: list[Any] = []
        for _ in self._each_in(cursor, statement, values, extra):
            found.extend(cursor.fetchall())
        return found

    def execute_in(
        self, cursor: Any, statement: str, values: Sequence[Any], extra: Sequence[Any] = ()
    ) -> None:
        """``statement`` (an UPDATE or DELETE with ``{marks}``) for many values, 500 at a time."""
        for _ in self._each_in(cursor, statement, values, extra):
            pass

    def _each_in(
        self, cursor: Any, statement: str, values: Sequence[Any], extra: Sequence[Any]
    ) -> Iterator[None]:
        for start in range(0, len(values), 500):
            chunk = list(values[start : start + 500])
            cursor.execute(self.sql(statement.format(marks=",".join("?" * len(chunk)))), [*chunk, *extra])
            yield

    def rowcount(self, cursor: Any) -> int:
        """Rows changed by the last statement (eventsourcing's SQLite cursor hides it)."""
        raw = cursor.sqlite_cursor if self.dialect == "sqlite" else cursor
        return max(raw.rowcount, 0)

    def lock(self, cursor: Any, table: str) -> None:
        """Serialise writers of a position-ordered table, so positions become visible in order.

        SQLite has one writer at a time already; PostgreSQL would otherwise let a later
        sequence value commit before an earlier one and a follower could skip a row.
        """
        if self.dialect == "postgres":
            cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")

    def lock_keys(self, cursor: Any, keys: Iterable[UUID]) -> None:
        """Transaction-scoped PostgreSQL advisory locks on entities, taken in one fixed order
        (so two writers cannot deadlock) and released by commit or rollback."""
        numbers = sorted({int.from_bytes(k.bytes[:8], "big", signed=True) for k in keys})
        cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", (numbers,))

    # -- the event log -------------------------------------------------------------------------

    def append(
        self,
        cursor: Any,
        events: Sequence[DomainEventProtocol[UUID]],
        tracking: Tracking | None = None,
    ) -> list[int]:
        """Record events (and a tracking position) in the caller's transaction.

        Returns the events' notification ids, in order.
        """
        if self.keys is not None:
            self.mapper.prepare(events)
        return self.append_stored(cursor, [self.mapper.to_stored_event(e) for e in events], tracking)

    def append_stored(
        self, cursor: Any, stored: Sequence[Any], tracking: Tracking | None = None
    ) -> list[int]:
        """Record already-encoded events (``append`` encodes; imports of old logs come here)."""
        if self.dialect == "sqlite":
            if not stored and tracking is None:
                return []
            ids = list(self.recorder._insert_events(cursor, stored, tracking=tracking) or [])
            self._chain(cursor, stored, ids)
            return ids
        # PostgreSQL: tracking first, then the events under the table lock (as eventsourcing does).
        if tracking is not None:
            self.recorder._insert_tracking(cursor, tracking)
        if not stored:
            return []
        # eventsourcing's own insert sends a composite-type array in text form, escaping every
        # byte of every state in Python; parallel arrays in binary form cost a fraction of that.
        # Same table lock and NOTIFY as eventsourcing, so its subscribers keep working.
        self.recorder._lock_table(cursor)
        self.recorder._notify_channel(cursor)
        cursor.execute(
            f"INSERT INTO {self._events_table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[]) "
            "RETURNING notification_id",
            (
                [e.originator_id for e in stored],
                [e.originator_version for e in stored],
                [e.topic for e in stored],
                [e.state for e in stored],
            ),
            binary=True,
        )
        ids = [row["notification_id"] for row in cursor.fetchall()]
        self._chain(cursor, stored, ids)
        return ids

    def _chain(self, cursor: Any, stored: Sequence[Any], ids: list[int]) -> None:
        """Link the events just inserted into the hash chain, under the writers' table lock."""
        if not stored:
            return
        cursor.execute("SELECT link FROM hub_chain ORDER BY position DESC LIMIT 1")
        row = cursor.fetchone()
        previous = bytes(row["link"]) if row else GENESIS
        links = []
        for position, event in zip(ids, stored, strict=True):
            previous = link(
                previous, position, event.originator_id, event.originator_version, event.topic, event.state
            )
            links.append((position, previous))
        if self.dialect == "sqlite":
            cursor.executemany("INSERT INTO hub_chain (position, link) VALUES (?, ?)", links)
        else:
            with cursor.copy("COPY hub_chain (position, link) FROM STDIN") as copy:
                for entry in links:
                    copy.write_row(entry)

    def position_in(self, cursor: Any, name: str) -> int:
        """A tracking position read inside the caller's transaction."""
        return self.recorder._max_tracking_id(name, cursor) or 0

    def events_between(self, cursor: Any, low: int, high: int, limit: int) -> list[DomainEventProtocol[UUID]]:
        """The events with ``low < notification id < high`` (at most ``limit``), decoded, read
        inside the caller's transaction."""
        column = "rowid" if self.dialect == "sqlite" else "notification_id"
        cursor.execute(
            self.sql(
                f"SELECT originator_id, originator_version, topic, state FROM {self._events_table} "
                f"WHERE {column} > ? AND {column} < ? ORDER BY {column} LIMIT ?"
            ),
            (low, high, limit),
        )
        return [self._decode_stored(row) for row in cursor.fetchall()]

    def _decode_stored(self, row: Any) -> DomainEventProtocol[UUID]:
        """A domain event from a row of the events table (SQLite keeps ids as hex text)."""
        originator = row["originator_id"]
        originator = UUID(originator) if isinstance(originator, str) else originator
        return self.decode_row(originator, row["originator_version"], row["topic"], bytes(row["state"]))

    def versions_in(self, cursor: Any, ids: Sequence[UUID]) -> dict[UUID, int]:
        """Each aggregate's latest version, seen from the caller's transaction (PostgreSQL)."""
        if not ids:
            return {}
        cursor.execute(
            f"SELECT originator_id, MAX(originator_version) AS version FROM {self._events_table} "
            "WHERE originator_id = ANY(%s) GROUP BY originator_id",
            (list(ids),),
        )
        return {row["originator_id"]: row["version"] for row in cursor.fetchall()}

    def track(self, cursor: Any, name: str, position: int) -> None:
        self.recorder._insert_tracking(cursor, Tracking(name, position))

    def position(self, name: str) -> int:
        return self.recorder.max_tracking_id(name) or 0

    def positions(self, names: Iterable[str]) -> dict[str, int]:
        """Several tracking positions in one query (0 for a name never tracked)."""
        wanted = sorted(set(names))
        marks = ",".join("?" * len(wanted))
        rows = self.query(
            f"SELECT application_name AS name, MAX(notification_id) AS position FROM {self.tracking_table} "
            f"WHERE application_name IN ({marks}) GROUP BY application_name",
            wanted,
        )
        found = {row["name"]: int(row["position"]) for row in rows}
        return {name: found.get(name, 0) for name in wanted}

    def exists(self, aggregate_id: UUID) -> bool:
        """Whether the log holds any event of this aggregate (without reading them)."""
        key: Any = aggregate_id.hex if self.dialect == "sqlite" else aggregate_id
        rows = self.query(
            f"SELECT 1 AS found FROM {self._events_table} WHERE originator_id = ? LIMIT 1", (key,)
        )
        return bool(rows)

    def version(self, aggregate_id: UUID) -> int:
        """An aggregate's latest version (0: no events), without reading its events."""
        key: Any = aggregate_id.hex if self.dialect == "sqlite" else aggregate_id
        rows = self.query(
            f"SELECT MAX(originator_version) AS version FROM {self._events_table} WHERE originator_id = ?",
            (key,),
        )
        return int(rows[0]["version"] or 0) if rows else 0

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def notifications(self, after: int, limit: int, upto: int | None = None) -> Sequence[Notification]:
        return self.recorder.select_notifications(after, limit, stop=upto, inclusive_of_start=False)

    def decode(self, notification: Notification) -> DomainEventProtocol[UUID]:
        return self.mapper.to_domain_event(notification)

    def decode_row(
        self, originator_id: UUID, version: int, topic: str, state: bytes
    ) -> DomainEventProtocol[UUID]:
        """A domain event from the columns of a stored row (upcast to the current class)."""
        return self.mapper.to_domain_event(_Stored(originator_id, version, topic, state))

    def events_of(self, ids: Iterable[UUID]) -> dict[UUID, list[DomainEventProtocol[UUID]]]:
        """All events of many aggregates in one query, in version order per aggregate."""
        wanted = list(dict.fromkeys(ids))
        found: dict[UUID, list[DomainEventProtocol[UUID]]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            keys: list[Any] = [i.hex for i in chunk] if self.dialect == "sqlite" else chunk
            marks = ",".join("?" * len(keys))
            rows = self.query(
                f"SELECT originator_id, originator_version, topic, state FROM {self._events_table} "
                f"WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version",
                keys,
            )
            for row in rows:
                event = self._decode_stored(row)
                found.setdefault(event.originator_id, []).append(event)
        return found

    def replay(self, ids: Iterable[UUID], until: datetime | None = None) -> dict[UUID, Any]:
        """Each aggregate rebuilt from all its events, or from those recorded up to ``until``
        (ids without events by then are left out)."""
        rebuilt: dict[UUID, Any] = {}
        for aggregate_id, events in self.events_of(ids).items():
            aggregate: Any = None
            for event in events:
                if until is not None and event.timestamp > until:
                    break
                aggregate = event.mutate(aggregate)
            if aggregate is not None:
                rebuilt[aggregate_id] = aggregate
        return rebuilt

    @contextmanager
    def change_waiter(self) -> Iterator[Callable[[float], None]]:
        """A function that returns when new events may have been recorded, or after a timeout.

        PostgreSQL: LISTEN on the channel eventsourcing NOTIFYs with every insert; SQLite has no
        notifications, so the waiter just sleeps for a fraction of the timeout (polling).
        """
        if self.dialect != "postgres":
            yield lambda timeout: time.sleep(min(timeout, 0.2))
            return
        connection = self._connect()
        try:
            connection.execute(f'LISTEN "{self.recorder.channel_name}"')

            def wait(timeout: float) -> None:
                for _ in connection.notifies(timeout=timeout, stop_after=1):
                    pass

            yield wait
        finally:
            connection.close()

    def close(self) -> None:
        self._log.close()
        if self.keys is not None:
            self.keys.close()


@dataclass(frozen=True)
class _Stored:
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes
