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
import shlex
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import OperationalError

__all__ = ["SCHEMA_LOCK", "KeyStoreError", "SubjectKeys", "load_kek", "open_subject_keys"]

_TABLE = (
    "CREATE TABLE IF NOT EXISTS hub_subject_keys (key_id TEXT PRIMARY KEY, subject TEXT NOT NULL, "
    "wrapped {blob}, created_at TEXT NOT NULL, erased_at TEXT)"
)
SCHEMA_LOCK = 7263541  # the advisory lock under which hub processes create tables
_INSERT = "INSERT INTO hub_subject_keys (key_id, subject, wrapped, created_at) VALUES (?, ?, ?, ?)"
_REWRAP = "UPDATE hub_subject_keys SET wrapped = ? WHERE key_id = ? AND wrapped IS NOT NULL"  # not erased
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


def kek_from_command(command: str, timeout: float = 30.0) -> bytes:
    """The KEK a command prints on its standard output (base64 of 32 bytes): a KMS or vault
    CLI, so the key never sits in the environment or on disk. Run without a shell; its error
    output is not repeated (it may hold what it was given)."""
    argv = shlex.split(command)
    if not argv:
        raise KeyStoreError("privacy.kek_command is empty: name a command that prints the key")
    source = f"the command {argv[0]!r}"
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, ValueError, subprocess.TimeoutExpired) as error:
        late = isinstance(error, subprocess.TimeoutExpired)
        reason = f"did not answer within {timeout:.0f} s" if late else "cannot run"
        raise KeyStoreError(f"{source} {reason}") from None
    if done.returncode != 0:
        raise KeyStoreError(f"{source} exited {done.returncode} without a key-encryption key")
    return _decoded(done.stdout.strip(), source)


def load_kek(variable: str, fallback_file: Path | None) -> bytes:
    """The KEK from ``variable`` (base64 of 32 bytes), else from a key file: the embedded
    default's, or one a secret store mounts (``privacy.kek_file``).

    The file is never made here: a missing file next to a key store that holds keys means the
    KEK was lost, and a new one would silently make every personal field unreadable
    (``open_subject_keys`` makes it, for a key store without keys only).
    """
    value = os.environ.get(variable)
    source = f"environment variable {variable}"
    if not value and fallback_file is not None:
        source = f"key file {fallback_file.name}"
        value = _key_file_text(
            fallback_file,
            f"restore it, or set {variable}, or move the key store aside to start with no personal data",
        )
    if not value:
        raise KeyStoreError(
            f"environment variable {variable} is not set: it must hold the base64 of 32 bytes"
        )
    return _decoded(value, f"the {source}")


def _key_file_text(path: Path, missing: str) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise KeyStoreError(f"the key file {path.name} is missing; {missing}") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "not text"
        raise KeyStoreError(f"the key file {path.name} cannot be read: {reason}") from None


def _decoded(value: str, source: str) -> bytes:
    try:
        kek = base64.b64decode(value, validate=True)
    except ValueError:
        raise KeyStoreError(f"{source} is not base64") from None
    if len(kek) != 32:
        raise KeyStoreError(f"{source} holds {len(kek)} bytes; it must hold 32 (AES-256)")
    return kek


def open_subject_keys(
    url: str,
    variable: str,
    fallback_file: Path | None,
    *,
    command: str | None = None,
    kek_file: Path | None = None,
    previous_variable: str | None = None,
) -> SubjectKeys:
    """The key store with its KEK, checked against the keys it already holds.

    The KEK comes from ``command`` (a KMS CLI) when set, else ``kek_file`` (a mounted secret),
    else ``variable``, else the embedded default's key file. On the embedded default's first
    start (no variable, no key file) a KEK is made and written to the key file - but only after
    the key store proved to hold no keys it would orphan. ``previous_variable`` names the KEK
    being rotated out: keys it wrapped are still read (``SubjectKeys.rewrap`` moves them).
    """
    previous = [load_kek(previous_variable, None)] if previous_variable else []
    if command:
        return SubjectKeys(url, kek_from_command(command), source="its command", previous=previous)
    if kek_file is not None:
        text = _key_file_text(kek_file, "mount the secret there, or unset privacy.kek_file")
        kek = _decoded(text, f"the key file {kek_file.name}")
        return SubjectKeys(url, kek, source=f"key file {kek_file.name}", previous=previous)
    if os.environ.get(variable) or fallback_file is None:
        kek = load_kek(variable, fallback_file)
        return SubjectKeys(url, kek, source=f"environment variable {variable}", previous=previous)
    if fallback_file.exists():
        kek = load_kek(variable, fallback_file)
        return SubjectKeys(url, kek, source=f"key file {fallback_file.name}", previous=previous)
    if previous:
        raise KeyStoreError(f"a previous key-encryption key is set, but no current one: set {variable}")
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

    def __init__(
        self,
        url: str,
        kek: bytes,
        cache_seconds: float = 30.0,
        source: str = "",
        previous: Sequence[bytes] = (),
    ) -> None:
        """``source`` names where the KEK came from, for the error when it opens no key.
        ``previous``: KEKs being rotated out; keys they wrapped are read, new keys are wrapped
        with ``kek`` only, and ``rewrap`` moves the old ones."""
        self.url = url
        self._kek = AESGCM(kek)
        self._previous = [AESGCM(k) for k in previous]
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
            self._unwrap(rows[0][0], bytes(rows[0][1]))
        except KeyStoreError:
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

    def _write_together(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        """Many rows in one transaction: all of them, or none (callers hold the lock)."""
        self._execute("BEGIN")
        try:
            self._execute_many(statement, rows)
            self._execute("COMMIT")
        except BaseException:
            self._execute("ROLLBACK")
            raise

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
                self._write_together(_INSERT, created)
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
        return self._opened(key_id, wrapped)[1]

    def _opened(self, key_id: str, wrapped: bytes) -> tuple[bool, bytes]:
        """(whether the current KEK made it, the key): the current KEK, else one being rotated
        out (AES-GCM tells which one made it)."""
        for kek in (self._kek, *self._previous):
            try:
                return kek is self._kek, kek.decrypt(wrapped[:12], wrapped[12:], key_id.encode())
            except InvalidTag:
                continue
        raise KeyStoreError(
            f"key {key_id} cannot be unwrapped: the key-encryption key is not the one it was made with"
        )

    def rewrap(self, on_progress: Callable[[int, int], None] | None = None) -> tuple[int, int]:
        """Wrap every key a previous KEK wrapped with the current one, in batches of 500, each
        in its own transaction: the hub keeps running (readers open a key with either KEK
        meanwhile), and a rotation stopped half-way is finished by running it again. Returns
        (keys re-wrapped, keys held in all). Erased keys stay erased."""
        with self._lock:
            rows = self._execute("SELECT key_id, wrapped FROM hub_subject_keys WHERE wrapped IS NOT NULL")
        moved = 0
        for start in range(0, len(rows), 500):
            changed = []
            for key_id, wrapped in rows[start : start + 500]:
                current, key = self._opened(key_id, bytes(wrapped))
                if not current:
                    changed.append((self._wrap(key_id, key), key_id))
            if changed:
                with self._lock:
                    self._write_together(_REWRAP, changed)
                moved += len(changed)
            if on_progress is not None:
                on_progress(min(start + 500, len(rows)), len(rows))
        return moved, len(rows)

    def close(self) -> None:
        self._connection.close()
