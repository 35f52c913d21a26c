"""The single customer view: the ``customers`` projection and the queries a call-centre agent and
a steward ask of it.

The projection follows the log like any other (rebuildable, verified by ``hub projections
rebuild customers --verify``): which customer each source record belongs to (CustomerLink
decisions), every record a customer ever held (for as-of views), the pairs waiting for a steward,
and per source record its orders with what value needs (total, refunds, channel, placement,
cancellation). A customer's view is composed when asked: the golden record of its records, its
orders as order tracking shows them, value, RFM, Pareto class and lifecycle, and the decisions
that put each record there. Population-wide cut-offs (quintiles, Pareto) come from one aggregate
query over the projection and are kept for ``thresholds_seconds``.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from rapidfuzz.distance import JaroWinkler

from aggregates import CustomerCase, CustomerInteraction, CustomerLink, Order, customer_id, link_id
from hub.identity.model import HELD_BACK
from hub.identity.normalise import NICKNAMES, canonical_email, normalise, plain, typo_keys
from hub.order_tracking import OrderQueries
from hub.store import Store, recorded_by
from projections.customer_activity import case_view, interaction_view, service_summary
from projections.customer_value import (
    SourceRecord,
    Thresholds,
    display_name,
    golden_record,
    lifecycle,
    pareto_class,
    rfm,
    value,
)

__all__ = [
    "SEARCH_CHARACTERS",
    "SEARCH_WORDS",
    "CustomerQueries",
    "CustomerTables",
    "SearchTooLong",
    "UnknownCustomerId",
]


class CustomerTables:
    name = "customers"
    reads = frozenset(
        {CustomerLink.__name__, Order.__name__, CustomerInteraction.__name__, CustomerCase.__name__}
    )

    def __init__(self, store: Store, suffix: str = "") -> None:
        self.store, self.suffix = store, suffix
        self.members = f"hub_cust_members{suffix}"
        self.orders = f"hub_cust_orders{suffix}"
        self.history = f"hub_cust_history{suffix}"
        self.reviews = f"hub_cust_reviews{suffix}"
        self.activity = f"hub_cust_activity{suffix}"

    def outdated(self) -> bool:
        """Nothing this projection stores changed shape."""
        return False

    def shadow(self, suffix: str) -> CustomerTables:
        return CustomerTables(self.store, suffix)

    def _tables(self) -> list[str]:
        return [self.members, self.orders, self.history, self.reviews, self.activity]

    def create(self, cursor: Any) -> None:
        for statement in (
            f"CREATE TABLE IF NOT EXISTS {self.members} (record TEXT PRIMARY KEY, customer TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.orders} (order_id TEXT PRIMARY KEY, record TEXT NOT NULL, "
            "channel TEXT NOT NULL, placed_at TEXT NOT NULL, total TEXT NOT NULL, refunds TEXT NOT NULL, "
            "cancelled INTEGER NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.history} (customer TEXT NOT NULL, record TEXT NOT NULL, "
            "PRIMARY KEY (customer, record))",
            f"CREATE TABLE IF NOT EXISTS {self.reviews} (a TEXT NOT NULL, b TEXT NOT NULL, "
            "score REAL NOT NULL, evidence TEXT NOT NULL, status TEXT NOT NULL, decided_by TEXT, "
            "PRIMARY KEY (a, b))",
            f"CREATE TABLE IF NOT EXISTS {self.activity} (activity TEXT PRIMARY KEY, record TEXT NOT NULL, "
            "kind TEXT NOT NULL)",
        ):
            cursor.execute(statement)
        self._index(cursor)

    def _index(self, cursor: Any) -> None:
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {self.members}_customer ON {self.members} (customer)")
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {self.orders}_record ON {self.orders} (record)")
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {self.activity}_record ON {self.activity} (record)")

    def drop(self, cursor: Any) -> None:
        for table in self._tables():
            cursor.execute(f"DROP TABLE IF EXISTS {table}")

    def replace(self, cursor: Any, live: CustomerTables) -> None:
        live.drop(cursor)
        for table, target in zip(self._tables(), live._tables(), strict=True):
            cursor.execute(f"ALTER TABLE {table} RENAME TO {target}")
        for table, column in ((self.members, "customer"), (self.orders, "record"), (self.activity, "record")):
            cursor.execute(f"DROP INDEX IF EXISTS {table}_{column}")
        live._index(cursor)

    def settle(self, committed: bool) -> None:
        """Nothing is cached between transactions."""

    def apply(self, cursor: Any, events: list[Any], position: int, reaches: int) -> None:
        """A batch in a few statements (on PostgreSQL each statement is a round trip): orders
        placed, then refunds, then cancellations (an order's later events follow its placing),
        activity, and the decisions."""
        decided = _Decided()
        placed: list[tuple[Any, ...]] = []
        refunded: list[Any] = []
        cancelled: list[tuple[str]] = []
        activity: list[tuple[str, str, str]] = []
        for event in events:
            if isinstance(event, CustomerLink.Decided):
                decided.add(event)
            elif isinstance(event, Order.Placed):
                if event.customer_ref:
                    placed.append(_order_row(event))
            elif isinstance(event, Order.PaymentRecorded) and event.status == "refunded":
                refunded.append(event)
            elif isinstance(event, Order.Cancelled):
                cancelled.append((str(event.originator_id),))
            elif isinstance(event, _ACTIVITY_EVENTS):
                record = getattr(event, "customer", None) or event.changes.get("customer")
                if record is not None:
                    kind = "interaction" if isinstance(event, _INTERACTION_EVENTS) else "case"
                    activity.append((str(event.originator_id), record, kind))
        sql = self.store.sql
        cursor.executemany(
            sql(
                f"INSERT INTO {self.orders} (order_id, record, channel, placed_at, total, refunds, "
                "cancelled) VALUES (?, ?, ?, ?, ?, '{}', 0) ON CONFLICT (order_id) DO NOTHING"
            ),
            placed,
        )
        for event in refunded:
            self._refund(cursor, event)
        cursor.executemany(sql(f"UPDATE {self.orders} SET cancelled = 1 WHERE order_id = ?"), cancelled)
        cursor.executemany(
            sql(
                f"INSERT INTO {self.activity} (activity, record, kind) VALUES (?, ?, ?) "
                "ON CONFLICT (activity) DO UPDATE SET record = excluded.record"
            ),
            activity,
        )
        self._decisions(cursor, decided)

    def _decisions(self, cursor: Any, decided: _Decided) -> None:
        """The placements and review pairs of a batch, one statement each (these tables are
        written by decisions only, so their rows keep the events' order)."""
        sql = self.store.sql
        cursor.executemany(
            sql(
                f"INSERT INTO {self.members} (record, customer) VALUES (?, ?) "
                "ON CONFLICT (record) DO UPDATE SET customer = excluded.customer"
            ),
            decided.members,
        )
        cursor.executemany(
            sql(
                f"INSERT INTO {self.history} (customer, record) VALUES (?, ?) "
                "ON CONFLICT (customer, record) DO NOTHING"
            ),
            decided.history,
        )
        for status, rows in (("open", decided.opened), ("decided", decided.settled)):
            keep = (
                "score = excluded.score, evidence = excluded.evidence"
                if status == "open"
                else "status = excluded.status, decided_by = excluded.decided_by"
            )
            cursor.executemany(
                sql(
                    f"INSERT INTO {self.reviews} (a, b, score, evidence, status, decided_by) "
                    f"VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (a, b) DO UPDATE SET {keep}"
                ),
                rows,
            )

    def _refund(self, cursor: Any, event: Any) -> None:
        sql, key = self.store.sql, str(event.originator_id)
        cursor.execute(sql(f"SELECT refunds FROM {self.orders} WHERE order_id = ?"), [key])
        row = cursor.fetchone()
        if row is not None:
            refunds = {**json.loads(row["refunds"]), event.payment_id: str(event.amount)}
            cursor.execute(
                sql(f"UPDATE {self.orders} SET refunds = ? WHERE order_id = ?"),
                [json.dumps(refunds, sort_keys=True), key],
            )

    def rows(self) -> list[tuple[Any, ...]]:
        queries = [
            ("member", f"SELECT record, customer FROM {self.members} ORDER BY record"),
            ("order", f"SELECT * FROM {self.orders} ORDER BY order_id"),
            ("held", f"SELECT customer || '/' || record AS k FROM {self.history} ORDER BY customer, record"),
            ("activity", f"SELECT * FROM {self.activity} ORDER BY activity"),
            (
                "review",
                f"SELECT a || '/' || b AS k, score, evidence, status FROM {self.reviews} ORDER BY a, b",
            ),
        ]
        return [(kind, *dict(r).values()) for kind, sql in queries for r in self.store.query(sql)]

    def count(self) -> int:
        return int(self.store.query(f"SELECT COUNT(*) AS n FROM {self.members}")[0]["n"])


# How alike (Jaro-Winkler) the words of a query and of a name are, on average and each at least:
# a typo, not another name
_SIMILAR, _WORD = 0.8, 0.7
_INTERACTION_EVENTS = (CustomerInteraction.Recorded, CustomerInteraction.Corrected)
_ACTIVITY_EVENTS = (*_INTERACTION_EVENTS, CustomerCase.Opened, CustomerCase.Changed)
INTERACTIONS_SHOWN = 50  # the newest; the summary counts them all


def _order_row(placed: Any) -> tuple[str, str, str, str, str]:
    """An order placed for a customer record: its row of the customer view's orders."""
    return (
        str(placed.originator_id),
        f"{placed.system}:{placed.customer_ref}",
        placed.channel,
        placed.placed_at.isoformat(),
        str(placed.total_amount),
    )


class _Decided:
    """The rows a batch of CustomerLink decisions writes, in the events' order."""

    def __init__(self) -> None:
        self.members: list[tuple[str, str]] = []
        self.history: list[tuple[str, str]] = []
        self.opened: list[tuple[Any, ...]] = []  # review pairs: score and evidence
        self.settled: list[tuple[Any, ...]] = []  # confirmed or rejected pairs: status and steward

    def add(self, event: Any) -> None:
        if event.customer is not None:
            self.members.append((event.record, event.customer))
            self.history.append((event.customer, event.record))
        if event.kind in ("review", "confirm", "reject") and event.other:
            a, b = sorted((event.record, event.other))
            status = {"review": "open", "confirm": "confirmed", "reject": "rejected"}[event.kind]
            row = (a, b, event.score or 0.0, json.dumps(event.evidence, sort_keys=True), status)
            if status == "open":
                self.opened.append((*row, None))
            else:
                self.settled.append((*row, event.by))


SEARCH_CHARACTERS = 200  # a name, an e-mail address, a phone number or an id, with room to spare
SEARCH_WORDS = 8  # words of a name looked up (each one's spellings are a few hundred keys)


class SearchTooLong(ValueError):
    """A search beyond what any name, address, number or id needs: refused before any work, so
    one request cannot hold the hub's time or memory."""


class UnknownCustomerId(LookupError):
    """The customer named on the command line or in the URL does not exist (the message says why)."""


class CustomerQueries:
    def __init__(
        self,
        store: Store,
        tables: CustomerTables,
        orders: OrderQueries,
        order_as_of: Callable[[UUID, datetime], dict[str, Any] | None],
        survivorship: Mapping[str, Mapping[str, Any]],
        thresholds_seconds: float = 600,
    ) -> None:
        self.store, self.tables, self.orders, self.order_as_of = store, tables, orders, order_as_of
        self.survivorship = survivorship
        self.thresholds_seconds = thresholds_seconds
        self._thresholds: tuple[float, Thresholds] | None = None

    # -- naming a customer ----------------------------------------------------------------------

    def resolve(self, ident: str) -> str:
        """A customer id, or SYSTEM:REF of any of its source records."""
        if ":" in ident:
            rows = self.store.query(f"SELECT customer FROM {self.tables.members} WHERE record = ?", [ident])
            if not rows:
                raise UnknownCustomerId(f"no customer holds the source record {ident!r}")
            return rows[0]["customer"]
        try:
            key = str(UUID(ident))
        except ValueError:
            raise UnknownCustomerId(f"{ident!r} is neither a customer id nor SYSTEM:REF") from None
        if not self.store.query(f"SELECT 1 AS x FROM {self.tables.history} WHERE customer = ?", [key]):
            raise UnknownCustomerId(f"no customer {key}")
        return key

    # -- the view -------------------------------------------------------------------------------

    def show(
        self, customer: str, now: datetime | None = None, as_of: datetime | None = None
    ) -> dict[str, Any]:
        """The customer now, or as the hub knew it at ``as_of`` (replayed from the log: which records
        it held, what they said, its orders and the decisions up to then)."""
        now = as_of or now or datetime.now(UTC)
        if as_of is None:
            records = self._records(customer)
        else:
            held = self._column(f"SELECT record FROM {self.tables.history} WHERE customer = ?", [customer])
            links = self.store.replay([link_id(r) for r in held], until=as_of)
            records = sorted(link.record for link in links.values() if link.customer == customer)
        if not records:
            when = f"at {as_of.isoformat()}" if as_of else "now (merged into another?)"
            raise UnknownCustomerId(f"customer {customer} held no source records {when}")
        sources = self._sources(records, as_of)
        marks = ",".join("?" * len(records))
        order_ids = self._column(
            f"SELECT order_id FROM {self.tables.orders} WHERE record IN ({marks})", records
        )
        if as_of is None:
            orders = self.orders.by_ids(order_ids, now)
        else:
            orders = [o for o in (self.order_as_of(UUID(i), as_of) for i in order_ids) if o is not None]
        orders.sort(key=lambda o: (o["placed_at"], o["order_ref"]))
        activity = self._activity(records, as_of)
        view = self._view(customer, records, sources, orders, activity, self._decisions(records, as_of), now)
        return view | ({"as_of": as_of.isoformat()} if as_of else {})

    def _column(self, sql: str, params: list[Any]) -> list[str]:
        return [next(iter(dict(row).values())) for row in self.store.query(sql + " ORDER BY 1", params)]

    def _records(self, customer: str) -> list[str]:
        return self._column(f"SELECT record FROM {self.tables.members} WHERE customer = ?", [customer])

    def _listed(self, customers: list[str]) -> dict[str, tuple[list[str], str]]:
        """Each customer's records and golden name, as a list shows them: the members of all in
        one read, and all their records' events in one more."""
        held: dict[str, list[str]] = defaultdict(list)
        with self.store.reading() as cursor:
            rows = self.store.select_in(
                cursor,
                f"SELECT customer, record FROM {self.tables.members} WHERE customer IN ({{marks}})",
                sorted(set(customers)),
            )
        for row in sorted(rows, key=lambda row: row["record"]):
            held[row["customer"]].append(row["record"])
        sources = self._sources([record for records in held.values() for record in records])
        return {
            customer: (records, display_name(self._golden({r: sources[r] for r in records if r in sources})))
            for customer, records in held.items()
        }

    def _view(
        self,
        customer: str,
        records: list[str],
        sources: dict[str, Any],
        orders: list[dict[str, Any]],
        activity: tuple[list[dict[str, Any]], list[dict[str, Any]]],
        decisions: dict[str, list[dict[str, Any]]],
        now: datetime,
    ) -> dict[str, Any]:
        interactions, cases = activity
        metrics = value(orders, now)
        thresholds = self.thresholds()
        return {
            "customer_id": customer,
            "golden": self._golden(sources),
            "identities": [
                {
                    "record": record,
                    "system": record.split(":", 1)[0],
                    "source_id": record.split(":", 1)[1],
                    "fields": sources[record].fields if record in sources else None,
                    "decisions": decisions.get(record, []),
                }
                for record in records
            ],
            "orders": [
                {
                    k: o[k]
                    for k in (
                        "order_ref",
                        "system",
                        "channel",
                        "stage",
                        "total_amount",
                        "paid_amount",
                        "placed_at",
                    )
                }
                | {"shipments": len(o["shipments"]), "anomalies": [a["code"] for a in o["anomalies"]]}
                for o in orders
            ],
            "value": metrics,
            "lifecycle": lifecycle(metrics),
            "rfm": rfm(metrics, thresholds),
            "pareto_class": pareto_class(Decimal(metrics["revenue"]), thresholds),
            "service": service_summary(interactions, cases, now),
            "interactions": interactions[:INTERACTIONS_SHOWN],
            "service_cases": cases,
        }

    def _activity(
        self, records: list[str], as_of: datetime | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The records' interactions (newest first) and service cases with their history, as
        they stood at ``as_of`` when given."""
        marks = ",".join("?" * len(records))
        ids = [
            UUID(i)
            for i in self._column(
                f"SELECT activity FROM {self.tables.activity} WHERE record IN ({marks})", records
            )
        ]
        interactions, cases = [], []
        for recorded in self.store.events_of(ids).values():
            events = recorded_by(recorded, as_of)
            state: Any = None
            for event in events:
                state = event.mutate(state)
            if state is None:
                continue
            if isinstance(state, CustomerInteraction):
                interactions.append(interaction_view(state.system, state.ref, state.customer, state.fields))
            else:
                history = [
                    {"event": type(e).__name__.lower(), "at": (e.as_of or e.timestamp.isoformat())}
                    | (
                        {"changes": e.changes}
                        if hasattr(e, "changes")
                        else {"status": e.fields.get("status")}
                    )
                    for e in events
                ]
                cases.append(case_view(state.system, state.ref, state.customer, state.fields, history))
        interactions.sort(key=lambda i: i["occurred_at"], reverse=True)
        cases.sort(key=lambda c: c["opened_at"], reverse=True)
        return interactions, cases

    def _golden(self, sources: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """Survivorship over the records' current fields; recency = the source's own update time,
        else when the hub last recorded a change."""
        return golden_record(
            [
                SourceRecord(r, r.split(":", 1)[0], s.fields, s.as_of or s.modified_on.isoformat())
                for r, s in sources.items()
            ],
            self.survivorship,
        )

    def _sources(self, records: list[str], as_of: datetime | None = None) -> dict[str, Any]:
        keys = {customer_id(*r.split(":", 1)): r for r in records}
        return {keys[k]: aggregate for k, aggregate in self.store.replay(keys, until=as_of).items()}

    def _decisions(
        self, records: list[str], as_of: datetime | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for events in self.store.events_of([link_id(r) for r in records]).values():
            decided = [e for e in recorded_by(events, as_of) if isinstance(e, CustomerLink.Decided)]
            if decided:
                found[decided[0].record] = [
                    {
                        "kind": e.kind,
                        "customer": e.customer,
                        "other": e.other,
                        "score": e.score,
                        "evidence": e.evidence,
                        "model": e.model,
                        "by": e.by,
                        "at": e.timestamp.isoformat(),
                    }
                    for e in decided
                ]
        return found

    # -- the identity graph ---------------------------------------------------------------------

    def graph(self, as_of: datetime | None = None) -> list[dict[str, Any]]:
        """Every source record with the customer it belonged to (now, or at ``as_of``) and the
        decision that put it there — rebuilt from the CustomerLink events, not the tables."""
        records = self._column(f"SELECT DISTINCT record FROM {self.tables.history}", [])
        rows = []
        for start in range(0, len(records), 1000):
            keys = [link_id(r) for r in records[start : start + 1000]]
            for events in self.store.events_of(keys).values():
                placing = [
                    e
                    for e in recorded_by(events, as_of)
                    if isinstance(e, CustomerLink.Decided)
                    and e.customer is not None
                    and e.kind != "review"  # names the record's customer, but placed nothing
                ]
                if placing:
                    last = placing[-1]
                    rows.append(
                        {
                            "customer_id": last.customer,
                            "record": last.record,
                            "decision": last.kind,
                            "by": last.by,
                            "model": last.model,
                            "score": last.score,
                            "at": last.timestamp.isoformat(),
                        }
                    )
        rows.sort(key=lambda row: (row["customer_id"], row["record"]))
        return rows

    # -- population cut-offs ----------------------------------------------------------------------

    def thresholds(self, now: datetime | None = None) -> Thresholds:
        cached = self._thresholds
        if cached is not None and time.monotonic() - cached[0] < self.thresholds_seconds:
            return cached[1]
        now = now or datetime.now(UTC)
        per_customer: dict[str, list[Any]] = defaultdict(lambda: [None, 0, Decimal(0)])
        rows = self.store.query(
            "SELECT m.customer AS customer, o.placed_at AS placed_at, o.total AS total, "
            f"o.refunds AS refunds FROM {self.tables.orders} o JOIN {self.tables.members} m "
            "ON m.record = o.record WHERE o.cancelled = 0"
        )
        for row in rows:
            entry = per_customer[row["customer"]]
            entry[0] = max(entry[0] or row["placed_at"], row["placed_at"])
            entry[1] += 1
            entry[2] += Decimal(row["total"]) - sum(
                map(Decimal, json.loads(row["refunds"]).values()), Decimal(0)
            )
        table = [
            ((now - datetime.fromisoformat(last)).total_seconds() / 86400, n, float(revenue))
            for last, n, revenue in per_customer.values()
        ]
        thresholds = Thresholds.of(table)
        self._thresholds = (time.monotonic(), thresholds)
        return thresholds

    # -- finding customers ----------------------------------------------------------------------

    def search(self, text: str, limit: int = 20) -> list[dict[str, Any]]:
        """By name (tolerant of typos and swapped order), e-mail, phone or id."""
        text = text.strip()
        if not text:
            return []
        if len(text) > SEARCH_CHARACTERS:
            raise SearchTooLong(f"a search holds at most {SEARCH_CHARACTERS} characters, got {len(text):,}")
        if ":" in text or _is_uuid(text):
            try:
                return self._hits([(self.resolve(text), (1.0, "id"))])
            except UnknownCustomerId:
                return []
        probe = normalise("search:query", _query_fields(text))
        keys = [f"e:{e}" for e in probe.emails] + [f"p:{p}" for p in probe.phones]
        scored: dict[str, tuple[float, str]] = {}
        if keys:
            marks = ",".join("?" * len(keys))
            rows = self.store.query(
                "SELECT DISTINCT r.customer AS customer FROM hub_identity_keys k "
                f"JOIN hub_identity_records r ON r.record = k.record WHERE k.key IN ({marks})",
                keys,
            )
            scored = {row["customer"]: (1.0, "email" if probe.emails else "phone") for row in rows}
        else:
            words = plain(text).split()
            if len(words) > SEARCH_WORDS:
                raise SearchTooLong(f"a name search holds at most {SEARCH_WORDS} words, got {len(words)}")
            scored = self._by_name(words)
        return self._hits(sorted(scored.items(), key=lambda item: (-item[1][0], item[0]))[:limit])

    def _by_name(self, words: list[str]) -> dict[str, tuple[float, str]]:
        """Records with every word of the query, each by its sound or a spelling one keystroke
        away (``typo_keys``; a short form by its full name's too); when typos hid a word from
        all of them, records with any of the words. Each customer scores as its best record: per
        word of the query, the closest word of the name (Jaro-Winkler, each word of the name
        matched once), averaged; a word of the query that no word of the name is close to leaves
        the record out, and so does an initial that no word of the name starts with."""
        forms = [{word, NICKNAMES.get(word, word)} for word in words if len(word) > 1]
        initials = [word for word in words if len(word) == 1]
        keys = [sorted({key for form in group for key in typo_keys(form)}) for group in forms]
        one = "SELECT * FROM (SELECT record FROM hub_identity_words WHERE key IN ({})) AS w{}"
        parts = [one.format(",".join("?" * len(k)), i) for i, k in enumerate(keys)]
        rows: list[Any] = []
        for joiner in (" INTERSECT ", " UNION ")[: len(parts)]:
            rows = self.store.query(
                "SELECT customer, profile FROM hub_identity_records WHERE record IN "
                f"({joiner.join(parts)} LIMIT 2000)",
                [a for k in keys for a in k],
            )
            if rows:
                break
        scored: dict[str, tuple[float, str]] = {}
        for row in rows:
            profile = json.loads(row["profile"])
            name = (profile["organisation"] or f"{profile['given']} {profile['family']}").split()
            best = _alike(forms, name)
            similarity = sum(best) / len(best)
            if min(best) < _WORD or similarity < _SIMILAR:
                continue
            if not all(any(word.startswith(initial) for word in name) for initial in initials):
                continue  # "R. Klein": a Klein whose name has an R
            if similarity > scored.get(row["customer"], (0.0, ""))[0]:
                scored[row["customer"]] = (similarity, "name")
        return scored

    def _hits(self, found: list[tuple[str, tuple[float, str]]]) -> list[dict[str, Any]]:
        listed = self._listed([customer for customer, _ in found])
        hits = []
        for customer, (score, how) in found:
            records, name = listed.get(customer, ([], ""))
            hits.append(
                {
                    "customer_id": customer,
                    "name": name,
                    "records": records,
                    "matched_by": how,
                    "score": round(score, 3),
                }
            )
        return hits

    # -- stewards' queue and export -------------------------------------------------------------

    def review(self, limit: int = 100) -> list[dict[str, Any]]:
        """Open pairs in the review band whose records are still in different customers."""
        rows = self.store.query(
            "SELECT v.a AS a, v.b AS b, v.score AS score, v.evidence AS evidence, ma.customer AS ca, "
            f"mb.customer AS cb FROM {self.tables.reviews} v "
            f"JOIN {self.tables.members} ma ON ma.record = v.a "
            f"JOIN {self.tables.members} mb ON mb.record = v.b "
            "WHERE v.status = 'open' AND ma.customer <> mb.customer "
            "ORDER BY v.score DESC, v.a, v.b LIMIT ?",
            [limit],
        )
        listed = self._listed([c for r in rows for c in (r["ca"], r["cb"])])
        pairs = []
        for r in rows:
            evidence = json.loads(r["evidence"])
            rule = evidence.get("rule")
            pairs.append(
                {
                    "a": r["a"],
                    "b": r["b"],
                    "score": r["score"],
                    "customers": [r["ca"], r["cb"]],
                    "names": [listed[r["ca"]][1], listed[r["cb"]][1]],
                    "question": HELD_BACK.get(rule, "the evidence falls between the thresholds"),
                    "evidence": evidence,
                }
            )
        return pairs

    def export(self) -> Iterator[dict[str, Any]]:
        """One row per source record: its customer and the customer's golden values."""
        rows = self.store.query(
            f"SELECT customer, record FROM {self.tables.members} ORDER BY customer, record"
        )
        by_customer: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            by_customer[row["customer"]].append(row["record"])
        for customer, records in by_customer.items():
            sources = self._sources(records)
            golden = self._golden(sources)
            flat = {f"golden_{k}": _flat(v["value"]) for k, v in golden.items()}
            for record in records:
                system, source_id = record.split(":", 1)
                yield {"customer_id": customer, "system": system, "source_id": source_id, **flat}


def _flat(value: Any) -> Any:
    if isinstance(value, list):
        return "; ".join(_flat(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(
            str(v) if not isinstance(v, list) else " ".join(map(str, v)) for v in value.values() if v
        )
    return value


def _alike(forms: list[set[str]], name: list[str]) -> list[float]:
    """Per word of the query (in its forms), its similarity to the word of the name it is paired
    with: the closest pairs first, each word of the name used once ("jansen" cannot pair with
    Johannes once "hans" has)."""
    pairs = sorted(
        (
            (max(JaroWinkler.similarity(form, word) for form in group), i, j)
            for i, group in enumerate(forms)
            for j, word in enumerate(name)
        ),
        reverse=True,
    )
    best, taken = [0.0] * len(forms), set()
    for similarity, i, j in pairs:
        if not best[i] and j not in taken:
            best[i] = similarity
            taken.add(j)
    return best


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


def _query_fields(text: str) -> dict[str, Any]:
    if "@" in text and canonical_email(text):
        return {"emails": [text]}
    digits = sum(c.isdigit() for c in text)
    if digits >= 6 and digits >= len(text.replace(" ", "")) - 4:
        return {"phones": [text]}
    return {}
