"""The order-tracking read model's tables: one document per order (the fold of
``projections/order_tracking.py``), an alias index, and a cache of the documents processing
touches again and again. ``hub/projecting.py:Projector`` runs it; ``queries.py`` reads it."""

from __future__ import annotations

import json
from typing import Any

from aggregates import Order, PaymentTolerance
from hub.order_tracking.cache import OrderCache, written_before_event_time
from hub.store import Store
from projections import TrackedOrder, apply_event, concerns

__all__ = ["OrderTrackingTables"]


class OrderTrackingTables:
    """The order-tracking read model: one document per order, plus an alias index."""

    name = "order_tracking"
    reads = frozenset({Order.__name__})

    def __init__(
        self,
        store: Store,
        tolerance: PaymentTolerance | None = None,
        suffix: str = "",
        cache_size: int = 50_000,
    ) -> None:
        self.store = store
        self.tolerance = tolerance
        self.suffix = suffix
        self.orders = f"hub_order_tracking{suffix}"
        self.aliases = f"hub_order_alias{suffix}"
        self._cache_size = cache_size
        self._cache = OrderCache(cache_size)

    def shadow(self, suffix: str) -> OrderTrackingTables:
        return OrderTrackingTables(self.store, self.tolerance, suffix, self._cache_size)

    def create(self, cursor: Any) -> None:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {self.orders} (order_id TEXT PRIMARY KEY, system TEXT "
            "NOT NULL, order_ref TEXT NOT NULL, stage TEXT NOT NULL, placed_at TEXT NOT NULL, "
            "updated_at TEXT NOT NULL, document TEXT NOT NULL)"
        )
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {self.aliases} (system TEXT NOT NULL, ref TEXT NOT NULL, "
            "order_id TEXT NOT NULL, PRIMARY KEY (system, ref))"
        )
        self._index(cursor)

    def _index(self, cursor: Any) -> None:
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {self.orders}_stage ON {self.orders} (stage)")
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {self.orders}_ref ON {self.orders} (order_ref)")
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {self.aliases}_ref ON {self.aliases} (ref)")

    def drop(self, cursor: Any) -> None:
        cursor.execute(f"DROP TABLE IF EXISTS {self.orders}")
        cursor.execute(f"DROP TABLE IF EXISTS {self.aliases}")

    def settle(self, committed: bool) -> None:
        """Called after the transaction of ``apply``: a rollback leaves the cache untrustworthy."""
        if not committed:
            self._cache.forget()

    def apply(self, cursor: Any, events: list[Any], position: int, reaches: int) -> None:
        """Apply events that move the view from ``position`` to ``reaches``."""
        self._cache.at(position)
        events = [e for e in events if concerns(e)]
        touched: dict[str, TrackedOrder | None] = {}
        wanted = list(dict.fromkeys(str(e.originator_id) for e in events))
        ids = []
        for key in wanted:
            cached = self._cache.get(key)
            if cached is None:
                ids.append(key)
            else:
                touched[key] = cached
        statement = f"SELECT order_id, document FROM {self.orders} WHERE order_id IN ({{marks}})"
        for row in self.store.select_in(cursor, statement, ids):
            touched[row["order_id"]] = TrackedOrder.from_document(json.loads(row["document"]), self.tolerance)
        new_aliases: list[tuple[str, str, str]] = []
        for event in events:
            key = str(event.originator_id)
            before = touched.get(key)
            known = len(before.aliases) if before is not None else 0
            after = apply_event(before, event, self.tolerance)
            if after is not None:  # placed with aliases, or another system's number recorded
                new_aliases.extend((a["system"], a["ref"], key) for a in after.aliases[known:])
            touched[key] = after
        self._cache.keep(touched, reaches)
        rows = [
            (
                o.order_id,
                o.system,
                o.order_ref,
                o.progress.stage,
                o.progress.placed_at.isoformat(),
                o.updated_at,
                json.dumps(o.to_document(), separators=(",", ":"), sort_keys=True),
            )
            for o in touched.values()
            if o is not None
        ]
        cursor.executemany(
            self.store.sql(
                f"INSERT INTO {self.orders} (order_id, system, order_ref, stage, placed_at, "
                "updated_at, document) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE "
                "SET stage = excluded.stage, updated_at = excluded.updated_at, "
                "document = excluded.document"
            ),
            rows,
        )
        cursor.executemany(
            self.store.sql(
                f"INSERT INTO {self.aliases} (system, ref, order_id) VALUES (?, ?, ?) "
                "ON CONFLICT (system, ref) DO NOTHING"
            ),
            new_aliases,
        )

    def outdated(self) -> bool:
        return written_before_event_time(self.store, self.orders)

    def rows(self) -> list[tuple[Any, ...]]:
        orders = self.store.query(
            f"SELECT order_id, system, order_ref, stage, placed_at, updated_at, document "
            f"FROM {self.orders} ORDER BY order_id"
        )
        aliases = self.store.query(f"SELECT system, ref, order_id FROM {self.aliases} ORDER BY system, ref")
        return [("order", *tuple(r.values() if isinstance(r, dict) else r)) for r in orders] + [
            ("alias", *tuple(r.values() if isinstance(r, dict) else r)) for r in aliases
        ]

    def count(self) -> int:
        return int(self.store.query(f"SELECT COUNT(*) AS n FROM {self.orders}")[0]["n"])

    def replace(self, cursor: Any, live: OrderTrackingTables) -> None:
        """Make these (shadow) tables the live ones, in the caller's transaction."""
        live.drop(cursor)
        for table, target in ((self.orders, live.orders), (self.aliases, live.aliases)):
            cursor.execute(f"ALTER TABLE {table} RENAME TO {target}")
        for index in ("orders_stage", "orders_ref", "aliases_ref"):
            kind, column = index.split("_")
            table = self.orders if kind == "orders" else self.aliases
            cursor.execute(f"DROP INDEX IF EXISTS {table}_{column}")
        live._index(cursor)
