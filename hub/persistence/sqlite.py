"""The SQLite recorder and connection pool the hub registers with eventsourcing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent, Tracking
from eventsourcing.sqlite import (
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteFactory,
    SQLiteProcessRecorder,
)

from hub.persistence.chain import CHAIN_TABLE, ChainedRecording, append_only, chain_table

SQLITE_CACHE_KIB = 65_536
SQLITE_MMAP_BYTES = 1 << 30


class TunedSQLitePool(SQLiteConnectionPool):
    """Every connection keeps 64 MiB of pages instead of SQLite's 2 MiB: the indexes that
    identity resolution and the projections probe at random stay in memory as the database grows
    (the per-record cost of resolution grew 1.7x from 10k to 30k records with 2 MiB, 1.3x with 64).
    Beyond that, the first GiB of the file is read through a memory map: a page the operating
    system holds costs no read call and no copy."""

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        return connection


class HubSQLiteRecorder(ChainedRecording, SQLiteProcessRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            chain_table("BLOB"),
            *append_only("sqlite", [self.events_table_name, CHAIN_TABLE]),
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs) or []
        if stored_events:
            c.executemany(
                f"INSERT INTO {CHAIN_TABLE} (position, link) VALUES (?, ?)", self.links(c, stored_events, ids)
            )
        return ids

    def record(self, cursor: Any, stored: Sequence[StoredEvent], tracking: Tracking | None) -> list[int]:
        if not stored and tracking is None:
            return []
        return list(self._insert_events(cursor, stored, tracking=tracking) or [])


class HubSQLiteFactory(SQLiteFactory):
    process_recorder_class = HubSQLiteRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        plain = self.datastore.pool  # no connection opened yet
        self.datastore.pool = TunedSQLitePool(db_name=plain.db_name, lock_timeout=plain.lock_timeout)
