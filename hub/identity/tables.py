"""The resolver's working state in the database: each record's profile and customer, the blocking
index, the links that hold customers together, the stewards' pair decisions and merges; and,
for ``hub customers search`` only, the words of each record's name.

Resolving a record loads only its neighbourhood — the records sharing a blocking key with it and
the members of their customers — into an ``IdentityGraph``, lets the resolver work on it, and
writes back what changed, in the caller's transaction. So the cost of a record is its
candidates', whatever the number of customers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import fields
from datetime import date
from functools import lru_cache
from typing import Any

from hub.identity.normalise import Profile, blocking_keys, search_keys
from hub.identity.resolver import IdentityGraph, crowded
from hub.store import Store

__all__ = ["IdentityTables", "Loaded", "profile_of"]


_FIELDS = tuple(f.name for f in fields(Profile))


def _profile_json(p: Profile) -> str:
    data = {name: getattr(p, name) for name in _FIELDS}  # dataclasses.asdict deep-copies: slow
    data["birth"] = p.birth.isoformat() if p.birth else None
    data["emails"], data["phones"] = sorted(p.emails), sorted(p.phones)
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


@lru_cache(maxsize=50_000)
def _stored_profile(text: str) -> Profile:
    """A neighbourhood reads the same stored profiles batch after batch (4-5 per record resolved):
    parsed once, kept while they are read (profiles are immutable; a changed one is new text)."""
    return profile_of(text)


def profile_of(text: str) -> Profile:
    data = json.loads(text)
    data["birth"] = date.fromisoformat(data["birth"]) if data["birth"] else None
    data["emails"], data["phones"] = frozenset(data["emails"]), frozenset(data["phones"])
    if "attributes" in data:
        data["attributes"] = tuple((str(k), str(v)) for k, v in data["attributes"])
    return Profile(**data)


class Loaded:
    """What was read, to write back only the difference."""

    def __init__(self, graph: IdentityGraph) -> None:
        self.customer_of = dict(graph.customer_of)
        self.links = dict(graph.links)
        self.together, self.apart = set(graph.together), set(graph.apart)
        self.pinned = set(graph.pinned)
        self.merged_from = dict(graph.merged_from)
        self.founded = dict(graph.founded)
        self.profiles = dict(graph.profiles)  # as stored: what their search words were


class IdentityTables:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.crowded: set[str] = set()  # keys seen held by too many records (``crowded``)

    def create(self, cursor: Any) -> None:
        for statement in (
            "CREATE TABLE IF NOT EXISTS hub_identity_records (record TEXT PRIMARY KEY, "
            "customer TEXT NOT NULL, profile TEXT NOT NULL, pinned INTEGER NOT NULL DEFAULT 0, "
            "founded INTEGER NOT NULL DEFAULT 0)",
            "CREATE INDEX IF NOT EXISTS hub_identity_records_customer ON hub_identity_records (customer)",
            "CREATE TABLE IF NOT EXISTS hub_identity_keys (key TEXT NOT NULL, record TEXT NOT NULL, "
            "PRIMARY KEY (key, record))",
            "CREATE INDEX IF NOT EXISTS hub_identity_keys_record ON hub_identity_keys (record)",
            # search only: no index by record, a record's words are known from its profile
            "CREATE TABLE IF NOT EXISTS hub_identity_words (key TEXT NOT NULL, record TEXT NOT NULL, "
            "PRIMARY KEY (key, record))",
            "CREATE TABLE IF NOT EXISTS hub_identity_links (a TEXT NOT NULL, b TEXT NOT NULL, "
            "score REAL NOT NULL, PRIMARY KEY (a, b))",
            "CREATE INDEX IF NOT EXISTS hub_identity_links_b ON hub_identity_links (b)",
            "CREATE TABLE IF NOT EXISTS hub_identity_pairs (a TEXT NOT NULL, b TEXT NOT NULL, "
            "kind TEXT NOT NULL, PRIMARY KEY (a, b))",
            "CREATE INDEX IF NOT EXISTS hub_identity_pairs_b ON hub_identity_pairs (b)",
            "CREATE TABLE IF NOT EXISTS hub_identity_merged (record TEXT PRIMARY KEY, origin TEXT NOT NULL, "
            "into_customer TEXT NOT NULL)",
        ):
            cursor.execute(statement)

    def add_search_words(self, cursor: Any) -> int:
        """Once, for a database from before the words of a name were searched by their spelling
        and sound (``word_keys``): every stored profile's words are keyed again, and the older
        word keys and the whole-name phonetic keys search once read go. Returns the number of
        records keyed (0 when there was nothing to do)."""
        # half the keys are spellings: the scan stops at once, unless there are none (then it keys them)
        cursor.execute(
            self.store.sql("SELECT record FROM hub_identity_words WHERE key LIKE ? LIMIT 1"), ["x:%"]
        )
        if cursor.fetchone() is not None:
            return 0
        cursor.execute("SELECT record, profile FROM hub_identity_records")
        profiles = [profile_of(row["profile"]) for row in cursor.fetchall()]
        if profiles:
            cursor.execute(self.store.sql("DELETE FROM hub_identity_keys WHERE key LIKE ?"), ["n:%"])
            cursor.execute("DELETE FROM hub_identity_words")
            self._words(cursor, {}, profiles)
        return len(profiles)

    def _words(self, cursor: Any, before: dict[str, Profile], changed: list[Profile]) -> None:
        """The search words of changed profiles: those they lost deleted, those they gained added."""
        sql = self.store.sql
        gone, came = [], []
        for profile in changed:
            old = before.get(profile.record)
            had, has = search_keys(old) if old else set(), search_keys(profile)
            gone += [(key, profile.record) for key in sorted(had - has)]
            came += [(key, profile.record) for key in sorted(has - had)]
        cursor.executemany(sql("DELETE FROM hub_identity_words WHERE key = ? AND record = ?"), gone)
        cursor.executemany(sql("INSERT INTO hub_identity_words (key, record) VALUES (?, ?)"), came)

    def analyse(self, cursor: Any) -> None:
        """Fresh planner statistics for the tables a neighbourhood and a search read (PostgreSQL)."""
        cursor.execute(
            "ANALYZE hub_identity_keys, hub_identity_records, hub_identity_links, hub_identity_pairs, "
            "hub_identity_words"
        )

    def forget(self, cursor: Any, record: str) -> int:
        """Erasure: the record keeps its customer, but nothing that identified the person."""
        blank = Profile(record, "person", "", "", "", None, frozenset(), frozenset(), "", "", "", "", "")
        cursor.execute(self.store.sql("DELETE FROM hub_identity_keys WHERE record = ?"), [record])
        cursor.execute(self.store.sql("SELECT profile FROM hub_identity_records WHERE record = ?"), [record])
        row = cursor.fetchone()
        if row is not None:
            self._words(cursor, {record: profile_of(row["profile"])}, [blank])
        cursor.execute(
            self.store.sql("UPDATE hub_identity_records SET profile = ? WHERE record = ?"),
            [_profile_json(blank), record],
        )
        return self.store.rowcount(cursor)

    # -- reading a neighbourhood ----------------------------------------------------------------

    def load(self, cursor: Any, profiles: Iterable[Profile], customers: Iterable[str] = ()) -> IdentityGraph:
        """The neighbourhood of these (new or changed) profiles and of these customers."""
        graph = IdentityGraph()
        wanted = {p.record: p for p in profiles}
        keys = sorted({k for p in wanted.values() for k in blocking_keys(p)} - self.crowded)
        for row in self.store.select_in(
            cursor, "SELECT key, record FROM hub_identity_keys WHERE key IN ({marks})", keys
        ):
            graph.keys[row["key"]].add(row["record"])
        # A key held by too many records finds no one: it is read in full once, then remembered.
        self.crowded |= {k for k, holders in graph.keys.items() if crowded(k, len(holders))}
        graph.crowded = self.crowded  # read only by the resolver
        records = set(wanted)
        for key in list(graph.keys):
            if key in graph.crowded:
                del graph.keys[key]
            else:
                records |= graph.keys[key]
        rows = self.store.select_in(
            cursor, "SELECT * FROM hub_identity_records WHERE record IN ({marks})", sorted(records)
        )
        wanted_customers = {row["customer"] for row in rows} | set(customers)
        rows += self.store.select_in(
            cursor, "SELECT * FROM hub_identity_records WHERE customer IN ({marks})", sorted(wanted_customers)
        )
        for row in rows:
            record = row["record"]
            if record in graph.profiles:
                continue
            graph.profiles[record] = _stored_profile(row["profile"])
            graph.customer_of[record] = row["customer"]
            graph.members[row["customer"]].add(record)
            if row["pinned"]:
                graph.pinned.add(record)
            if row["founded"]:
                graph.founded[record] = int(row["founded"])
        known = sorted(graph.profiles)
        for row in self.store.select_in(
            cursor, "SELECT a, b, score FROM hub_identity_links WHERE a IN ({marks})", known
        ):
            graph.links[frozenset((row["a"], row["b"]))] = float(row["score"])
        for row in self.store.select_in(
            cursor, "SELECT a, b, kind FROM hub_identity_pairs WHERE a IN ({marks})", known
        ):
            (graph.together if row["kind"] == "together" else graph.apart).add(
                frozenset((row["a"], row["b"]))
            )
        for row in self.store.select_in(
            cursor,
            "SELECT record, origin, into_customer FROM hub_identity_merged WHERE record IN ({marks})",
            known,
        ):
            graph.merged_from[row["record"]] = (row["origin"], row["into_customer"])
        # The profiles being resolved replace their stored versions (index updated by the resolver).
        for record in wanted:
            old = graph.profiles.get(record)
            if old is not None:
                for key in blocking_keys(old):
                    graph.keys[key].add(record)
        return graph

    # -- writing back ---------------------------------------------------------------------------

    def _sync(
        self, cursor: Any, table: str, column: str, before: dict[Any, Any], after: dict[Any, Any]
    ) -> None:
        """Pairs stored both ways round: delete what went or changed, insert what came."""
        for pair in [p for p in before if after.get(p) != before[p]]:
            a, b = sorted(pair)
            cursor.execute(
                self.store.sql(f"DELETE FROM {table} WHERE (a = ? AND b = ?) OR (a = ? AND b = ?)"),
                [a, b, b, a],
            )
        cursor.executemany(
            self.store.sql(f"INSERT INTO {table} (a, b, {column}) VALUES (?, ?, ?)"),
            [row for pair, value in after.items() if before.get(pair) != value for row in _both(pair, value)],
        )

    def save(self, cursor: Any, graph: IdentityGraph, before: Loaded, changed: Iterable[Profile]) -> None:
        sql = self.store.sql
        changed = list(changed)
        self.store.execute_in(
            cursor, "DELETE FROM hub_identity_keys WHERE record IN ({marks})", [p.record for p in changed]
        )
        cursor.executemany(
            sql("INSERT INTO hub_identity_keys (key, record) VALUES (?, ?)"),
            [(key, profile.record) for profile in changed for key in sorted(blocking_keys(profile))],
        )
        self._words(cursor, before.profiles, changed)
        touched = {p.record for p in changed}
        touched |= {r for r, c in graph.customer_of.items() if before.customer_of.get(r) != c}
        touched |= {r for r in graph.pinned ^ before.pinned}
        touched |= {r for r in graph.founded if graph.founded[r] != before.founded.get(r)}
        cursor.executemany(
            sql(
                "INSERT INTO hub_identity_records (record, customer, profile, pinned, founded) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (record) DO UPDATE SET customer = excluded.customer, "
                "profile = excluded.profile, pinned = excluded.pinned, founded = excluded.founded"
            ),
            [
                (
                    r,
                    graph.customer_of[r],
                    _profile_json(graph.profiles[r]),
                    1 if r in graph.pinned else 0,
                    graph.founded.get(r, 0),
                )
                for r in sorted(touched)
                if r in graph.customer_of
            ],
        )
        self._sync(cursor, "hub_identity_links", "score", before.links, graph.links)
        self._sync(
            cursor,
            "hub_identity_pairs",
            "kind",
            _kinds(before.together, before.apart),
            _kinds(graph.together, graph.apart),
        )
        gone = [r for r in before.merged_from if r not in graph.merged_from]
        cursor.executemany(sql("DELETE FROM hub_identity_merged WHERE record = ?"), [(r,) for r in gone])
        cursor.executemany(
            sql(
                "INSERT INTO hub_identity_merged (record, origin, into_customer) VALUES (?, ?, ?) "
                "ON CONFLICT (record) DO UPDATE SET origin = excluded.origin, "
                "into_customer = excluded.into_customer"
            ),
            [(r, o, i) for r, (o, i) in graph.merged_from.items() if before.merged_from.get(r) != (o, i)],
        )


def _kinds(together: set[frozenset[str]], apart: set[frozenset[str]]) -> dict[frozenset[str], str]:
    return {p: "together" for p in together} | {p: "apart" for p in apart}


def _both(pair: frozenset[str], value: Any) -> list[tuple[str, str, Any]]:
    """Stored both ways round, so a neighbourhood finds a pair from either side with one index."""
    a, b = sorted(pair)
    return [(a, b, value), (b, a, value)]
