"""Data keys, one (or more, after an erasure) per data subject, wrapped by a key-encryption key.

The key store is its own database (by default a file next to the hub's SQLite database, or the
``privacy.key_store_url`` setting); the key-encryption key (KEK) comes from the environment.
Erasing a subject deletes its wrapped keys: everything encrypted with them becomes unreadable,
everywhere, at once — while the event log, which cannot change, stays intact and verifiable.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import OperationalError

__all__ = ["SCHEMA_LOCK", "KeyStoreError", "SubjectKeys", "load_kek", "open_subject_keys"]

_TABLE = (
    "CREATE TABLE IF NOT EXISTS hub_subject_keys (key_id TEXT PRIMARY KEY, subject TEXT NOT NULL, "
    "wrapped {blob}, created_at TEXT NOT NULL, erased_at TEXT)"
)
SCHEMA_LOCK = 7263541  # the advisory lock under which hub processes create tables
_INSERT = "INSERT INTO hub_subject_keys (key_id, subject, wrapped, created_at) VALUES (?, ?, ?, ?)"
_INDEX = "CREATE INDEX IF NOT EXISTS hub_subject_keys_subject ON hub_subject_keys (subject)"


class KeyStoreError(RuntimeError):
    """The key store or the key-encryption key cannot be used (the message says which and why)."""


def _postgres_errors() -> tuple[type[Exception], ...]:
    """psycopg's connection failures, when psycopg is installed (the SQLite default needs none)."""
    try:
        import psycopg
    except ImportError:
        return ()
    return (psycopg.OperationalError,)


def load_kek(variable: str, fallback_file: Path | None) -> bytes:
    """The KEK from ``variable`` (base64 of 32 bytes), else from the embedded default's key file.

    The file is never made here: a missing file next to a key store that holds keys means the
    KEK was lost, and a new one would silently make every personal field unreadable
    (``open_subject_keys`` makes it, for a key store without keys only).
    """
    value = os.environ.get(variable)
    source = f"environment variable {variable}"
    if not value and fallback_file is not None:
        source = f"key file {fallback_file.name}"
        try:
            value = fallback_file.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            raise KeyStoreError(
                f"the {source} is missing; restore it, or set {variable}, or move the key store "
                "aside to start with no personal data"
            ) from None
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else "not text"
            raise KeyStoreError(f"the {source} cannot be read: {reason}") from None
    if not value:
        raise KeyStoreError(
            f"environment variable {variable} is not set: it must hold the base64 of 32 bytes"
        )
    try:
        kek = base64.b64decode(value, validate=True)
    except ValueError:
        raise KeyStoreError(f"the {source} is not base64") from None
    if len(kek) != 32:
        raise KeyStoreError(f"the {source} holds {len(kek)} bytes; it must hold 32 (AES-256)")
    return kek


def open_subject_keys(url: str, variable: str, fallback_file: Path | None) -> SubjectKeys:
    """The key store with its KEK, checked against the keys it already holds.

    On the embedded default's first start (no variable, no key file) a KEK is made and written
    to the key file - but only after the key store proved to hold no keys it would orphan.
    """
    if os.environ.get(variable) or fallback_file is None:
        return SubjectKeys(url, load_kek(variable, fallback_file), source=f"environment variable {variable}")
    if fallback_file.exists():
        return SubjectKeys(url, load_kek(variable, fallback_file), source=f"key file {fallback_file.name}")
    made = AESGCM.generate_key(bit_length=256)
    try:
        keys = SubjectKeys(url, made, source=f"a new key file {fallback_file.name}")
    except KeyStoreError:  # the store holds keys: the file that made them is missing
        load_kek(variable, fallback_file)  # raises, saying so
        raise
    fallback_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(fallback_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process starting on the same new store wrote it first
        keys.close()
        return SubjectKeys(url, load_kek(variable, fallback_file), source=f"key file {fallback_file.name}")
    with os.fdopen(descriptor, "w") as handle:
        handle.write(base64.b64encode(made).decode())
        handle.flush()
        os.fsync(handle.fileno())
    return keys


class SubjectKeys:
    """Thread-safe; keys are cached for ``cache_seconds`` (an erasure elsewhere takes that long
    to reach a running process; this process forgets at once)."""

    def __init__(self, url: str, kek: bytes, cache_seconds: float = 30.0, source: str = "") -> None:
        """``source`` names where the KEK came from, for the error when it opens no key."""
        self.url = url
        self._kek = AESGCM(kek)
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, bytes | None]] = {}
        self._current: dict[UUID, tuple[float, str]] = {}
        self._ttl = cache_seconds
        parts = urlsplit(url)
        if parts.scheme == "sqlite":
            path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._connection: Any = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._marks, blob = "?", "BLOB"
        elif parts.scheme in ("postgresql", "postgres"):
            import psycopg

            self._connection = psycopg.connect(url, autocommit=True)
            self._marks, blob = "%s", "BYTEA"
        else:
            raise KeyStoreError(f"key store {url!r}: use sqlite:///path or postgresql://…")
        with self._lock:
            # Processes starting together would race in CREATE TABLE IF NOT EXISTS on PostgreSQL:
            # take the lock the hub's own schema creation takes (see Store.schema_lock).
            if self._marks == "%s":
                self._execute(f"SELECT pg_advisory_lock({SCHEMA_LOCK})")
            try:
                self._execute(_TABLE.format(blob=blob))
                self._execute(_INDEX)
            finally:
                if self._marks == "%s":
                    self._execute(f"SELECT pg_advisory_unlock({SCHEMA_LOCK})")
        self._check(source)

    def _check(self, source: str) -> None:
        """Refuse to start with a KEK that does not open the keys already held: otherwise every
        personal field would fail later, one read at a time, deep inside processing."""
        with self._lock:
            rows = self._execute(
                "SELECT key_id, wrapped FROM hub_subject_keys WHERE wrapped IS NOT NULL LIMIT 1"
            )
        if not rows:
            return
        try:
            self._kek.decrypt(bytes(rows[0][1])[:12], bytes(rows[0][1])[12:], rows[0][0].encode())
        except Exception:
            self.close()
            raise KeyStoreError(
                f"the key-encryption key{' (' + source + ')' if source else ''} does not open the keys "
                "the key store holds: it is not the key they were made with; restore that one"
            ) from None

    def _execute(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """A statement on the key store's one connection (callers hold the lock).

        A database that fails (a server restarted, a full disk) raises eventsourcing's
        ``OperationalError``, as the event store does, so processing retries the batch later and
        blames no message; a connection the server dropped is replaced for the next call.
        """
        return self._run(lambda: self._connection.execute(statement.replace("?", self._marks), params))

    def _execute_many(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        """One statement for many rows: on PostgreSQL sent together, not a round trip each."""

        def send() -> None:
            with contextlib.closing(self._connection.cursor()) as cursor:
                cursor.executemany(statement.replace("?", self._marks), rows)

        self._run(send)

    def _run(self, call: Callable[[], Any]) -> list[Any]:
        try:
            cursor = call()
            return list(cursor.fetchall()) if cursor is not None and cursor.description else []
        except (sqlite3.OperationalError, *_postgres_errors()) as error:
            if self._marks == "%s" and (self._connection.broken or self._connection.closed):
                import psycopg

                with contextlib.suppress(Exception):
                    self._connection.close()
                with contextlib.suppress(Exception):
                    self._connection = psycopg.connect(self.url, autocommit=True)
            raise OperationalError(f"key store: {error}") from error

    def ensure(self, subjects: set[UUID]) -> None:
        """Load or create the live keys of many subjects with one read and one commit (a batch of
        new customers would otherwise pay a durable commit each)."""
        now = time.monotonic()
        wanted = [s for s in subjects if not self._live(s, now)]
        if not wanted:
            return
        with self._lock:
            found: dict[str, tuple[str, bytes]] = {}
            for start in range(0, len(wanted), 500):
                chunk = [str(s) for s in wanted[start : start + 500]]
                marks = ",".join("?" * len(chunk))
                for subject, key_id, wrapped in self._execute(
                    f"SELECT subject, key_id, wrapped FROM hub_subject_keys WHERE subject IN ({marks}) "
                    "AND wrapped IS NOT NULL",
                    tuple(chunk),
                ):
                    found[subject] = (key_id, self._unwrap(key_id, bytes(wrapped)))
            created = []
            stamp = datetime.now(UTC).isoformat()
            for subject in wanted:
                if str(subject) not in found:
                    key_id, key = secrets.token_hex(12), AESGCM.generate_key(bit_length=256)
                    found[str(subject)] = (key_id, key)
                    created.append((key_id, str(subject), self._wrap(key_id, key), stamp))
            if created:
                self._execute("BEGIN")
                try:
                    self._execute_many(_INSERT, created)
                    self._execute("COMMIT")
                except BaseException:
                    self._execute("ROLLBACK")
                    raise
        for subject in wanted:
            key_id, key = found[str(subject)]
            self._current[subject] = (now, key_id)
            self._cache[key_id] = (now, key)

    def _live(self, subject: UUID, now: float) -> bool:
        """Whether a fresh, not erased key of the subject is cached."""
        cached = self._current.get(subject)
        if cached is None or now - cached[0] >= self._ttl:
            return False
        key = self._cache.get(cached[1])
        return key is not None and key[1] is not None

    def current(self, subject: UUID) -> tuple[str, bytes]:
        """The subject's live key (created when it has none): (key id, key)."""
        self.ensure({subject})
        key_id = self._current[subject][1]
        return key_id, self._cache[key_id][1]  # type: ignore[return-value]  # ensure() made it live

    def key(self, key_id: str) -> bytes | None:
        """A key by id; None once its subject was erased."""
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        with self._lock:
            rows = self._execute("SELECT wrapped FROM hub_subject_keys WHERE key_id = ?", (key_id,))
        key = self._unwrap(key_id, bytes(rows[0][0])) if rows and rows[0][0] is not None else None
        self._cache[key_id] = (now, key)
        return key

    def erase(self, subject: UUID) -> int:
        """Destroy every key of the subject; returns how many were destroyed."""
        with self._lock:
            rows = self._execute(
                "SELECT key_id FROM hub_subject_keys WHERE subject = ? AND wrapped IS NOT NULL",
                (str(subject),),
            )
            self._execute(
                "UPDATE hub_subject_keys SET wrapped = NULL, erased_at = ? WHERE subject = ?",
                (datetime.now(UTC).isoformat(), str(subject)),
            )
        for (key_id,) in rows:
            self._cache.pop(key_id, None)
        self._current.pop(subject, None)
        return len(rows)

    def erased(self, subject: UUID) -> bool:
        with self._lock:
            rows = self._execute(
                "SELECT COUNT(*) FROM hub_subject_keys WHERE subject = ? AND erased_at IS NOT NULL",
                (str(subject),),
            )
        return bool(rows[0][0])

    def _wrap(self, key_id: str, key: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._kek.encrypt(nonce, key, key_id.encode())

    def _unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        try:
            return self._kek.decrypt(wrapped[:12], wrapped[12:], key_id.encode())
        except Exception:
            raise KeyStoreError(
                f"key {key_id} cannot be unwrapped: the key-encryption key is not the one it was made with"
            ) from None

    def close(self) -> None:
        self._connection.close()
