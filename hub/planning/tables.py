"""The planning read model: demand, supply, stock and item master per item, and each buffered
item's DDMRP buffer computed from them.

Incremental: an event changes the input rows of the items it concerns and marks those items
dirty; their buffers are recomputed in the same transaction (``eager_limit`` items at most, so a
rebuild's large batches defer the work to one pass at the end instead of recomputing an item per
batch). Buffers also depend on the calendar, so a buffer computed on an earlier day is stale:
readers call ``refresh`` before they read, which recomputes what is dirty or stale and nothing
else. The cost of one item is its demand inside the ADU window and its open demand, independent
of the number of items.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from aggregates import MasterRecord, Order, StockPosition
from hub.order_tracking.cache import written_before_event_time
from hub.store import Store
from projections import TrackedOrder, apply_event, concerns
from projections.planning import DemandLine, PlanningPolicy, StockLine, SupplyLine, plan_item

__all__ = ["PlanningTables", "utc_today"]

_CHUNK = 500


def utc_today() -> date:
    return datetime.now(UTC).date()


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


class PlanningTables:
    name = "planning"
    reads = frozenset({Order.__name__, MasterRecord.__name__, StockPosition.__name__})

    def __init__(
        self,
        store: Store,
        policy: PlanningPolicy,
        today: Callable[[], date] = utc_today,
        suffix: str = "",
        eager_limit: int = 2000,
    ) -> None:
        self.store, self.policy, self.today, self.suffix = store, policy, today, suffix
        self.eager_limit = eager_limit
        self.orders = f"hub_plan_orders{suffix}"
        self.demand = f"hub_plan_demand{suffix}"
        self.records = f"hub_plan_records{suffix}"
        self.stock = f"hub_plan_stock{suffix}"
        self.buffers = f"hub_plan_buffers{suffix}"
        self.dirty = f"hub_plan_dirty{suffix}"

    def shadow(self, suffix: str) -> PlanningTables:
        return PlanningTables(self.store, self.policy, self.today, suffix, self.eager_limit)

    def _tables(self) -> list[str]:
        return [self.orders, self.demand, self.records, self.stock, self.buffers, self.dirty]

    # -- schema -------------------------------------------------------------------------------

    def create(self, cursor: Any) -> None:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {self.orders} (order_id TEXT PRIMARY KEY, document TEXT NOT NULL)"
        )
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {self.demand} (order_id TEXT NOT NULL, sku TEXT NOT NULL, "
            "order_ref TEXT NOT NULL, system TEXT NOT NULL, channel TEXT NOT NULL, quantity TEXT NOT NULL, "
            "open_quantity TEXT NOT NULL, is_open INTEGER NOT NULL, due TEXT NOT NULL, "
            "PRIMARY KEY (order_id, sku))"
        )
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {self.records} (record_id TEXT PRIMARY KEY, kind TEXT NOT NULL, "
            "ref TEXT NOT NULL, sku TEXT, fields TEXT NOT NULL)"
        )
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {self.stock} (stock_id TEXT PRIMARY KEY, sku TEXT NOT NULL, "
            "location TEXT NOT NULL, on_hand TEXT NOT NULL, allocated TEXT NOT NULL, document TEXT NOT NULL)"
        )
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {self.buffers} (sku TEXT PRIMARY KEY, colour TEXT NOT NULL, "
            "percent REAL, work_centre TEXT, computed_on TEXT NOT NULL, document TEXT NOT NULL)"
        )
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {self.dirty} (sku TEXT PRIMARY KEY)")
        self._index(cursor)

    def _indexes(self) -> list[tuple[str, str, str]]:
        return [
            (self.demand, "sku", "sku, due"),
            (self.demand, "open", "sku, is_open"),
            (self.records, "sku", "sku"),
            (self.stock, "sku", "sku"),
            (self.buffers, "day", "computed_on"),
        ]

    def _index(self, cursor: Any) -> None:
        for table, name, columns in self._indexes():
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {table}_{name} ON {table} ({columns})")

    def drop(self, cursor: Any) -> None:
        for table in self._tables():
            cursor.execute(f"DROP TABLE IF EXISTS {table}")

    def replace(self, cursor: Any, live: PlanningTables) -> None:
        """Make these (shadow) tables the live ones, in the caller's transaction."""
        live.drop(cursor)
        for table, target in zip(self._tables(), live._tables(), strict=True):
            cursor.execute(f"ALTER TABLE {table} RENAME TO {target}")
        for table, column, _ in self._indexes():
            cursor.execute(f"DROP INDEX IF EXISTS {table}_{column}")
        live._index(cursor)

    def outdated(self) -> bool:
        return written_before_event_time(self.store, self.orders)

    def settle(self, committed: bool) -> None:
        """Nothing is cached between transactions."""

    # -- following the log ----------------------------------------------------------------------

    def apply(self, cursor: Any, events: list[Any], position: int, reaches: int) -> None:
        touched: set[str] = set()
        touched |= self._apply_orders(cursor, [e for e in events if concerns(e)])
        touched |= self._apply_records(cursor, [e for e in events if isinstance(e, _RECORD_EVENTS)])
        touched |= self._apply_stock(cursor, [e for e in events if isinstance(e, _STOCK_EVENTS)])
        if not touched:
            return
        cursor.executemany(
            self.store.sql(f"INSERT INTO {self.dirty} (sku) VALUES (?) ON CONFLICT (sku) DO NOTHING"),
            [(sku,) for sku in sorted(touched)],
        )
        if len(touched) <= self.eager_limit:
            self.recompute(cursor, sorted(touched), self.today())

    def _load(self, cursor: Any, table: str, key: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = self.store.select_in(cursor, f"SELECT * FROM {table} WHERE {key} IN ({{marks}})", ids)
        return {row[key]: dict(row) for row in rows}

    def _apply_orders(self, cursor: Any, events: list[Any]) -> set[str]:
        if not events:
            return set()
        ids = list(dict.fromkeys(str(e.originator_id) for e in events))
        orders = {
            key: TrackedOrder.from_document(json.loads(row["document"]))
            for key, row in self._load(cursor, self.orders, "order_id", ids).items()
        }
        for event in events:
            key = str(event.originator_id)
            tracked = apply_event(orders.get(key), event)
            if tracked is not None:
                orders[key] = tracked
        touched = {
            row["sku"]
            for row in self.store.select_in(
                cursor, f"SELECT DISTINCT sku FROM {self.demand} WHERE order_id IN ({{marks}})", ids
            )
        }
        self.store.execute_in(cursor, f"DELETE FROM {self.demand} WHERE order_id IN ({{marks}})", ids)
        rows = [
            (
                line.order_id,
                line.sku,
                line.order_ref,
                line.system,
                line.channel,
                str(line.quantity),
                str(line.open_quantity),
                1 if line.open_quantity > 0 else 0,
                line.due.isoformat(),
            )
            for tracked in orders.values()
            for line in order_demand(tracked)
        ]
        touched.update(row[1] for row in rows)
        cursor.executemany(
            self.store.sql(
                f"INSERT INTO {self.demand} (order_id, sku, order_ref, system, channel, quantity, "
                "open_quantity, is_open, due) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            rows,
        )
        cursor.executemany(
            self.store.sql(
                f"INSERT INTO {self.orders} (order_id, document) VALUES (?, ?) "
                "ON CONFLICT (order_id) DO UPDATE SET document = excluded.document"
            ),
            [(key, _json(tracked.to_document())) for key, tracked in orders.items()],
        )
        return touched

    def _apply_records(self, cursor: Any, events: list[Any]) -> set[str]:
        if not events:
            return set()
        ids = list(dict.fromkeys(str(e.originator_id) for e in events))
        records: dict[str, dict[str, Any] | None] = {
            key: {**row, "fields": json.loads(row["fields"])}
            for key, row in self._load(cursor, self.records, "record_id", ids).items()
        }
        touched = {r["sku"] for r in records.values() if r and r["sku"]}  # a record may change item
        for event in events:
            key = str(event.originator_id)
            records[key] = fold_record(records.get(key), event)
        rows = [(key, r["kind"], r["ref"], r["sku"], _json(r["fields"])) for key, r in records.items() if r]
        cursor.executemany(
            self.store.sql(
                f"INSERT INTO {self.records} (record_id, kind, ref, sku, fields) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (record_id) DO UPDATE SET sku = excluded.sku, fields = excluded.fields"
            ),
            rows,
        )
        return touched | {row[3] for row in rows if row[3]}

    def _apply_stock(self, cursor: Any, events: list[Any]) -> set[str]:
        if not events:
            return set()
        ids = list(dict.fromkeys(str(e.originator_id) for e in events))
        states = {
            key: _stock_state(row) for key, row in self._load(cursor, self.stock, "stock_id", ids).items()
        }
        for event in events:
            key = str(event.originator_id)
            states[key] = fold_stock(states.get(key), event)
        rows = [
            (key, s.sku, s.location, str(stock_line(s).on_hand), str(s.allocated), _json(_stock_document(s)))
            for key, s in states.items()
            if s is not None
        ]
        cursor.executemany(
            self.store.sql(
                f"INSERT INTO {self.stock} (stock_id, sku, location, on_hand, allocated, document) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (stock_id) DO UPDATE SET on_hand = excluded.on_hand, "
                "allocated = excluded.allocated, document = excluded.document"
            ),
            rows,
        )
        return {row[1] for row in rows}

    # -- buffers --------------------------------------------------------------------------------

    def refresh(self, today: date | None = None) -> int:
        """Recompute dirty buffers and those computed on an earlier day; returns how many."""
        today = today or self.today()
        with self.store.transaction() as cursor:
            cursor.execute(
                self.store.sql(
                    f"SELECT sku FROM {self.dirty} UNION "
                    f"SELECT sku FROM {self.buffers} WHERE computed_on <> ?"
                ),
                [today.isoformat()],
            )
            skus = sorted(row["sku"] for row in cursor.fetchall())
            if skus:
                self.recompute(cursor, skus, today)
        return len(skus)

    def recompute(self, cursor: Any, skus: Sequence[str], today: date) -> None:
        """Recompute the buffers of these items from their input rows (chunks of 500 items)."""
        window_start = (today - timedelta(days=self.policy.adu_window_days)).isoformat()
        for chunk in _chunks(skus):
            marks = ",".join("?" * len(chunk))
            inputs = self._inputs(cursor, list(chunk), marks, window_start)
            upserts, removed = [], []
            for sku in chunk:
                item, demand, supply, stock = (part.get(sku) for part in inputs)
                document = None
                if item is not None:
                    document = plan_item(
                        sku, item, demand or [], supply or [], stock or [], self.policy, today
                    )
                if document is None:
                    removed.append((sku,))
                    continue
                percent = document.get("status_percent")
                upserts.append(
                    (
                        sku,
                        document["colour"],
                        None if percent is None else float(percent),
                        document.get("work_centre"),
                        today.isoformat(),
                        _json(document),
                    )
                )
            cursor.executemany(self.store.sql(f"DELETE FROM {self.buffers} WHERE sku = ?"), removed)
            cursor.executemany(
                self.store.sql(
                    f"INSERT INTO {self.buffers} (sku, colour, percent, work_centre, computed_on, document) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sku) DO UPDATE SET colour = excluded.colour, "
                    "percent = excluded.percent, work_centre = excluded.work_centre, "
                    "computed_on = excluded.computed_on, document = excluded.document"
                ),
                upserts,
            )
            cursor.execute(self.store.sql(f"DELETE FROM {self.dirty} WHERE sku IN ({marks})"), list(chunk))

    def _inputs(
        self, cursor: Any, skus: list[str], marks: str, window_start: str
    ) -> tuple[
        dict[str, Any], dict[str, list[DemandLine]], dict[str, list[SupplyLine]], dict[str, list[StockLine]]
    ]:
        items: dict[str, Any] = {}
        supply: dict[str, list[SupplyLine]] = defaultdict(list)
        cursor.execute(
            self.store.sql(f"SELECT kind, ref, sku, fields FROM {self.records} WHERE sku IN ({marks})"), skus
        )
        for row in cursor.fetchall():
            fields = json.loads(row["fields"])
            if row["kind"] == "item":
                items[row["sku"]] = fields
            else:
                supply[row["sku"]].append(supply_line(row["ref"], fields))
        demand: dict[str, list[DemandLine]] = defaultdict(list)
        stock: dict[str, list[StockLine]] = defaultdict(list)
        # Demand and stock only of buffered items: an unbuffered item's order lines are never read.
        skus = [sku for sku in skus if items.get(sku, {}).get("buffer_profile")]
        if not skus:
            return items, demand, supply, stock
        marks = ",".join("?" * len(skus))
        cursor.execute(
            self.store.sql(
                f"SELECT * FROM {self.demand} WHERE sku IN ({marks}) AND (due >= ? OR is_open = 1)"
            ),
            [*skus, window_start],
        )
        for row in cursor.fetchall():
            demand[row["sku"]].append(demand_line(row))
        cursor.execute(
            self.store.sql(
                f"SELECT sku, location, on_hand, allocated FROM {self.stock} WHERE sku IN ({marks})"
            ),
            skus,
        )
        for row in cursor.fetchall():
            stock[row["sku"]].append(
                StockLine(row["location"], Decimal(row["on_hand"]), Decimal(row["allocated"]))
            )
        return items, demand, supply, stock

    # -- rebuild support ------------------------------------------------------------------------

    def rows(self) -> list[tuple[Any, ...]]:
        """The input rows, keyed for comparison (buffers are derived from them, and dated)."""
        queries = [
            ("order", f"SELECT order_id AS k, document FROM {self.orders} ORDER BY order_id"),
            (
                "demand",
                f"SELECT order_id || '/' || sku AS k, order_ref, system, channel, quantity, open_quantity, "
                f"is_open, due FROM {self.demand} ORDER BY order_id, sku",
            ),
            (
                "record",
                f"SELECT record_id AS k, kind, ref, sku, fields FROM {self.records} ORDER BY record_id",
            ),
            (
                "stock",
                f"SELECT stock_id AS k, sku, location, on_hand, allocated, document FROM {self.stock} "
                "ORDER BY stock_id",
            ),
        ]
        return [(kind, *dict(row).values()) for kind, sql in queries for row in self.store.query(sql)]

    def count(self) -> int:
        return int(self.store.query(f"SELECT COUNT(*) AS n FROM {self.demand}")[0]["n"])


_RECORD_EVENTS = (MasterRecord.Registered, MasterRecord.Changed)
_STOCK_EVENTS = (StockPosition.Opened, StockPosition.Counted, StockPosition.Received)


def order_demand(tracked: TrackedOrder) -> list[DemandLine]:
    """An order's lines as demand: due on the requested date, else the day it was placed."""
    progress = tracked.progress
    due = (
        date.fromisoformat(tracked.requested_date)
        if tracked.requested_date
        else progress.placed_at.astimezone(UTC).date()
    )
    cancelled = progress.cancelled_at is not None
    shipped = progress.shipped_quantities()
    lines = []
    for sku, ordered in sorted(progress.ordered.items()):
        quantity = Decimal(0) if cancelled else ordered
        lines.append(
            DemandLine(
                sku=sku,
                order_id=tracked.order_id,
                order_ref=tracked.order_ref,
                system=tracked.system,
                channel=tracked.channel,
                quantity=quantity,
                open_quantity=max(quantity - shipped.get(sku, Decimal(0)), Decimal(0)),
                due=due,
            )
        )
    return lines


def fold_record(record: dict[str, Any] | None, event: Any) -> dict[str, Any] | None:
    """An item or supply-order record after one of its events (as the aggregate folds them)."""
    if isinstance(event, MasterRecord.Registered):
        record = {"kind": event.kind, "ref": event.ref, "fields": dict(event.fields)}
    elif record is None:
        return None
    else:
        record = {**record, "fields": {**record["fields"], **event.changes}}
    record["sku"] = record["ref"] if record["kind"] == "item" else record["fields"].get("sku")
    return record


def fold_stock(state: SimpleNamespace | None, event: Any) -> SimpleNamespace | None:
    """A stock position after one of its events, by the aggregate's own rules."""
    if isinstance(event, StockPosition.Opened):
        return SimpleNamespace(
            sku=event.sku,
            location=event.location,
            counted=Decimal(0),
            allocated=Decimal(0),
            counted_at=None,
            receipts={},
        )
    if state is not None:
        event.apply(state)  # a count supersedes the receipts before it
    return state


def stock_line(state: SimpleNamespace) -> StockLine:
    on_hand = StockPosition.on_hand.fget(state)  # type: ignore[attr-defined]
    return StockLine(state.location, on_hand, state.allocated)


def demand_line(row: dict[str, Any]) -> DemandLine:
    return DemandLine(
        sku=row["sku"],
        order_id=row["order_id"],
        order_ref=row["order_ref"],
        system=row["system"],
        channel=row["channel"],
        quantity=Decimal(row["quantity"]),
        open_quantity=Decimal(row["open_quantity"]),
        due=date.fromisoformat(row["due"]),
    )


def supply_line(ref: str, fields: dict[str, Any]) -> SupplyLine:
    return SupplyLine(
        order_ref=ref,
        kind=fields.get("kind", "production"),
        quantity=Decimal(str(fields.get("quantity", "0"))),
        due=date.fromisoformat(fields["due_date"]),
        status=fields.get("status", "released"),
        work_centre=fields.get("work_centre"),
    )


def _stock_state(row: dict[str, Any]) -> SimpleNamespace:
    doc = json.loads(row["document"])
    return SimpleNamespace(
        sku=row["sku"],
        location=row["location"],
        counted=Decimal(doc["counted"]),
        allocated=Decimal(doc["allocated"]),
        counted_at=None if doc["counted_at"] is None else datetime.fromisoformat(doc["counted_at"]),
        receipts={k: (Decimal(q), datetime.fromisoformat(t)) for k, (q, t) in doc["receipts"].items()},
    )


def _stock_document(state: SimpleNamespace) -> dict[str, Any]:
    return {
        "counted": str(state.counted),
        "allocated": str(state.allocated),
        "counted_at": None if state.counted_at is None else state.counted_at.isoformat(),
        "receipts": {k: [str(q), t.isoformat()] for k, (q, t) in sorted(state.receipts.items())},
    }
