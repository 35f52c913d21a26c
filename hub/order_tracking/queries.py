"""Reading the order-tracking view: lists, single orders by any alias, stage counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from hub.settings import TrackingThresholds
from hub.store import Store
from projections import Thresholds, public_view

__all__ = ["AmbiguousOrderRef", "OrderQueries"]


class AmbiguousOrderRef(LookupError):
    """A reference that names orders in several systems; the message lists them."""


class OrderQueries:
    def __init__(self, store: Store, thresholds: TrackingThresholds) -> None:
        self.store = store
        self.thresholds = Thresholds(
            paid_not_shipped=timedelta(hours=thresholds.paid_not_shipped_hours),
            shipped_not_paid=timedelta(hours=thresholds.shipped_not_paid_hours),
            delivered_unconfirmed=timedelta(days=thresholds.delivered_unconfirmed_days),
        )
        self.tolerance = thresholds.tolerance()

    def list(
        self, stage: str | None = None, limit: int | None = None, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        statement = "SELECT document FROM hub_order_tracking"
        params: list[Any] = []
        if stage:
            statement += " WHERE stage = ?"
            params.append(stage)
        statement += " ORDER BY placed_at, order_ref"
        if limit:
            statement += " LIMIT ?"
            params.append(limit)
        now = now or datetime.now(UTC)
        return [
            public_view(json.loads(r["document"]), self.thresholds, now, self.tolerance)
            for r in self.store.query(statement, params)
        ]

    def show(self, ref: str, system: str | None = None, now: datetime | None = None) -> dict[str, Any] | None:
        """Find an order by its reference or any alias (e.g. Shopify's '#1001')."""
        doc = self._document(ref, system)
        return (
            None
            if doc is None
            else public_view(doc, self.thresholds, now or datetime.now(UTC), self.tolerance)
        )

    def by_ids(self, order_ids: list[str], now: datetime | None = None) -> list[dict[str, Any]]:
        """Orders by the hub's ids, in the order given (those not tracked yet left out)."""
        if not order_ids:
            return []
        marks = ",".join("?" * len(order_ids))
        rows = self.store.query(
            f"SELECT order_id, document FROM hub_order_tracking WHERE order_id IN ({marks})", order_ids
        )
        documents = {row["order_id"]: json.loads(row["document"]) for row in rows}
        moment = now or datetime.now(UTC)
        return [
            public_view(documents[i], self.thresholds, moment, self.tolerance)
            for i in order_ids
            if i in documents
        ]

    def order_id(self, ref: str, system: str | None = None) -> UUID | None:
        """The hub's id of the order a reference or alias names (None: unknown)."""
        doc = self._document(ref, system)
        return None if doc is None else UUID(doc["order_id"])

    def _document(self, ref: str, system: str | None) -> dict[str, Any] | None:
        statement = (
            "SELECT DISTINCT t.document, t.order_id FROM hub_order_alias a "
            "JOIN hub_order_tracking t ON t.order_id = a.order_id WHERE a.ref = ?"
        )
        params = [ref]
        if system:
            statement += " AND a.system = ?"
            params.append(system)
        rows = self.store.query(statement, params)
        if len(rows) > 1:
            found = [json.loads(r["document"]) for r in rows]
            names = ", ".join(f"{d['system']}:{d['order_ref']}" for d in found)
            raise AmbiguousOrderRef(f"{ref!r} names several orders ({names}); pass --system")
        return json.loads(rows[0]["document"]) if rows else None

    def stage_counts(self) -> dict[str, int]:
        rows = self.store.query("SELECT stage, COUNT(*) AS n FROM hub_order_tracking GROUP BY stage")
        return {r["stage"]: int(r["n"]) for r in rows}
