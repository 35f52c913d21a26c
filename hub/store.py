"""The event store and the hub's own tables (inbox, dead letters, read models) in one database.

``eventsourcing`` provides the recorders (SQLite or PostgreSQL, chosen by ``HUB_DATABASE_URL``);
this module opens them and exposes one transaction in which domain events, tracking positions
and the hub's own rows commit together — the basis of exactly-once processing.
"""

from __future__ import annotations

import itertools
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

from hub.privacy.keys import SCHEMA_LOCK, SubjectKeys
from hub.privacy.mapper import PrivacyMapper

__all__ = ["DatabaseUrlError", "Store", "recorded_by"]


class DatabaseUrlError(ValueError):
    """A database URL the hub cannot use."""


class _EventLog(Application[UUID]):
    """eventsourcing application used only for its recorder and mapper (no repository use)."""

    name = "hub"

    def construct_recorder(self) -> ProcessRecorder:  # type: ignore[override]
        return self.factory.process_recorder()


@dataclass(frozen=True)
class DatabaseTarget:
    dialect: str
    env: dict[str, str]
    display: str


def recorded_by(events: Sequence[Any], at: datetime | None) -> list[Any]:
    """The events of one aggregate (in version order) the hub had recorded by ``at``.

    The longest prefix, not a filter: after the clock jumped back a later version carries an
    earlier time, and a filter would keep it while leaving out the event that created the
    aggregate; a prefix is always a state the aggregate really had.
    """
    if at is None:
        return list(events)
    return list(itertools.takewhile(lambda event: event.timestamp <= at, events))


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
            "PERSISTENCE_MODULE": "hub.persistence.sqlite:HubSQLiteFactory",
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
            "PERSISTENCE_MODULE": "hub.persistence.postgres:HubPostgresFactory",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": host,
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_POOL_SIZE": "4",
            "POSTGRES_MAX_OVERFLOW": "4",
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "60",
            # A server that went away: a caller waits at most 5 s for a connection and gets an
            # OperationalError (a 503, a retried batch) instead of hanging; connections the
            # server dropped are found when taken from the pool, not by a failed transaction.
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_PRE_PING": "y",
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
        # With subject keys, personal fields are sealed on the way in and opened on the way out.
        self.keys = keys
        self.mapper: Any = PrivacyMapper(self._log.mapper, keys) if keys else self._log.mapper
        self._events_table = self.recorder.events_table_name
        # eventsourcing names it on PostgreSQL; its SQLite recorder always uses "tracking".
        self.tracking_table: str = getattr(self.recorder, "tracking_table_name", "tracking")
        if self.dialect == "postgres":
            with self.schema_lock():
                self.recorder.create_table()
        self._ensured: set[str] = set()

    def ensure(self, *statements: str) -> None:
        """Create the tables and indexes an owner declares (``{serial}`` for an increasing
        integer key in this dialect), once per store, under the schema lock: each table is created
        by the one module that owns it, wherever that module is first used."""
        wanted = [s for s in statements if s not in self._ensured]
        if not wanted:
            return
        serial = "INTEGER" if self.dialect == "sqlite" else "BIGSERIAL"
        with self.schema_lock(), self.transaction() as cursor:
            for statement in wanted:
                cursor.execute(statement.format(serial=serial))
        self._ensured.update(wanted)

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
        return self.recorder.record(cursor, stored, tracking)

    def position_in(self, cursor: Any, name: str) -> int:
        """A tracking position read inside the caller's transaction."""
        return self.recorder.position_in(cursor, name)

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
        self.recorder.track(cursor, Tracking(name, position))

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
            for event in recorded_by(events, until):
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
