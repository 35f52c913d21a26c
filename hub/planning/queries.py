"""What planners ask of the planning read model: buffers, the schedule, orders at risk, and why an
item's figures are what they are — now or as of any past instant (replayed from the log).

The JSON shapes returned here are the CLI's ``--json`` and the HTTP API's contract.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from aggregates import master_id
from hub.planning.tables import (
    PlanningTables,
    demand_line,
    fold_record,
    fold_stock,
    order_demand,
    stock_line,
    supply_line,
)
from hub.settings import PlanningSettings
from hub.store import Store, recorded_by
from projections import apply_event
from projections.planning import OPEN_SUPPLY, plan_item
from projections.schedule import Job, Scheduled, schedule

__all__ = ["COLOURS", "PlanQueries", "UnknownItem"]

# A filter by colour takes in the extremes of its zone: red includes dark red (at or below zero).
COLOURS = {
    "red": ("dark_red", "red"),
    "yellow": ("yellow",),
    "green": ("green", "over_top_of_green"),
    "dark_red": ("dark_red",),
    "over_top_of_green": ("over_top_of_green",),
    "unplanned": ("unplanned",),
}


class UnknownItem(LookupError):
    """The item named on the command line or in the URL is not buffered (the message says why)."""


class PlanQueries:
    def __init__(self, store: Store, tables: PlanningTables, settings: PlanningSettings) -> None:
        self.store, self.tables, self.settings = store, tables, settings

    def today(self) -> date:
        return self.tables.today()

    # -- buffers --------------------------------------------------------------------------------

    def buffers(self, status: str | None = None) -> list[dict[str, Any]]:
        """Buffered items, most urgent first (lowest buffer status)."""
        self.tables.refresh()
        if status is not None and status not in COLOURS:
            raise ValueError(f"unknown status {status!r}: {', '.join(COLOURS)}")
        where, params = "", []
        if status is not None:
            where = f" WHERE colour IN ({','.join('?' * len(COLOURS[status]))})"
            params = list(COLOURS[status])
        rows = self.store.query(
            f"SELECT document FROM {self.tables.buffers}{where} ORDER BY percent IS NULL, percent, sku",
            params,
        )
        return [json.loads(row["document"]) for row in rows]

    def buffer(self, sku: str) -> dict[str, Any]:
        self.tables.refresh()
        rows = self.store.query(f"SELECT document FROM {self.tables.buffers} WHERE sku = ?", [sku])
        if not rows:
            raise UnknownItem(self._why_unknown(sku))
        return json.loads(rows[0]["document"])

    def _why_unknown(self, sku: str) -> str:
        item = self.store.query(
            f"SELECT fields FROM {self.tables.records} WHERE kind = 'item' AND ref = ?", [sku]
        )
        if not item:
            return f"item {sku!r} is not in the item master (no ERP item or planning file row names it)"
        return f"item {sku!r} has no buffer_profile in the item master: it is not buffered"

    # -- schedule -------------------------------------------------------------------------------

    def schedule(self, work_centre: str | None = None) -> dict[str, Any]:
        """Recommended and open production orders per work centre, sequenced within capacity."""
        buffers = {b["sku"]: b for b in self.buffers()}
        today = self.today()
        jobs = [
            Job(
                ref=f"REC-{sku}",
                kind="recommended",
                sku=sku,
                quantity=Decimal(b["recommendation"]["quantity"]),
                due=date.fromisoformat(b["recommendation"]["due"]),
                work_centre=b["work_centre"],
                rate_per_day=_rate(b.get("capacity_per_day")),
                buffer_percent=Decimal(b["status_percent"]),
                colour=b["colour"],
            )
            for sku, b in buffers.items()
            if b.get("recommendation") and b.get("work_centre")
        ]
        items = {
            row["ref"]: json.loads(row["fields"])
            for row in self.store.query(f"SELECT ref, fields FROM {self.tables.records} WHERE kind = 'item'")
        }
        for row in self.store.query(
            f"SELECT ref, sku, fields FROM {self.tables.records} WHERE kind = 'supply_order'"
        ):
            supply = supply_line(row["ref"], json.loads(row["fields"]))
            item = items.get(row["sku"], {})
            centre = supply.work_centre or item.get("work_centre")
            if supply.kind != "production" or supply.status not in OPEN_SUPPLY or not centre:
                continue
            buffer = buffers.get(row["sku"], {})
            percent = buffer.get("status_percent")
            jobs.append(
                Job(
                    ref=supply.order_ref,
                    kind=supply.status,
                    sku=row["sku"],
                    quantity=supply.quantity,
                    due=supply.due,
                    work_centre=centre,
                    rate_per_day=_rate(item.get("capacity_per_day")),
                    buffer_percent=None if percent is None else Decimal(percent),
                    colour=buffer.get("colour"),
                )
            )
        if work_centre is not None:
            jobs = [job for job in jobs if job.work_centre == work_centre]
        plan = schedule(jobs, today)
        return {
            "today": today.isoformat(),
            "work_centres": {centre: [_slot(slot) for slot in slots] for centre, slots in plan.items()},
            "load": {centre: _load(slots) for centre, slots in plan.items()},
            "late": [_slot(s) for slots in plan.values() for s in slots if s.late],
            "at_risk": self.at_risk(list(buffers.values())),
        }

    def at_risk(self, buffers: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Open customer-order lines of items in red: by due date, and whether stock covers them."""
        found_buffers = self.buffers() if buffers is None else buffers  # the schedule has them already
        red = {b["sku"]: b for b in found_buffers if b["colour"] in COLOURS["red"]}
        if not red:
            return []
        marks = ",".join("?" * len(red))
        rows = self.store.query(
            f"SELECT * FROM {self.tables.demand} WHERE is_open = 1 AND sku IN ({marks}) "
            "ORDER BY sku, due, order_ref",
            list(red),
        )
        found = []
        left: dict[str, Decimal] = {sku: Decimal(b["on_hand"]) for sku, b in red.items()}
        for row in rows:
            line = demand_line(dict(row))
            covered = left[line.sku] >= line.open_quantity
            left[line.sku] -= line.open_quantity
            found.append(
                {
                    "order_ref": line.order_ref,
                    "system": line.system,
                    "channel": line.channel,
                    "sku": line.sku,
                    "open_quantity": str(line.open_quantity),
                    "due": line.due.isoformat(),
                    "buffer": red[line.sku]["colour"],
                    "status_percent": red[line.sku]["status_percent"],
                    "covered_by_stock": covered,
                }
            )
        return sorted(found, key=lambda r: (r["covered_by_stock"], r["due"], r["order_ref"], r["sku"]))

    # -- explain --------------------------------------------------------------------------------

    def explain(self, sku: str, as_of: datetime | None = None) -> dict[str, Any]:
        """The item's buffer with the inputs behind it; ``as_of`` replays the log to that instant."""
        if as_of is None:
            return self.buffer(sku)
        document = self._replayed(sku, as_of)
        if document is None:
            raise UnknownItem(f"item {sku!r} was not buffered as of {as_of.isoformat()}")
        return document | {"as_of": as_of.isoformat()}

    def _replayed(self, sku: str, as_of: datetime) -> dict[str, Any] | None:
        """Recompute the plan from the events recorded up to ``as_of``, through the same folds as
        the live tables. The aggregates concerned are found through the live tables (an order's
        items never change; a supply order is looked up under every item it was ever filed
        under by its record id)."""
        ids: set[UUID] = {master_id("item", sku)}
        for table, column in (
            (self.tables.demand, "order_id"),
            (self.tables.stock, "stock_id"),
            (self.tables.records, "record_id"),
        ):
            ids |= {
                UUID(row["k"])
                for row in self.store.query(f"SELECT {column} AS k FROM {table} WHERE sku = ?", [sku])
            }
        events = {
            key: recorded_by(stream, as_of) for key, stream in self.store.events_of(sorted(ids)).items()
        }
        item: dict[str, Any] | None = None
        demand, supply, stock = [], [], []
        for stream in events.values():
            if not stream:
                continue
            tracked = record = state = None
            for event in stream:
                tracked = apply_event(tracked, event)
                record = fold_record(record, event)
                state = fold_stock(state, event)
            if tracked is not None:
                demand.extend(line for line in order_demand(tracked) if line.sku == sku)
            if record is not None and record["sku"] == sku:
                if record["kind"] == "item":
                    item = record["fields"]
                else:
                    supply.append(supply_line(record["ref"], record["fields"]))
            if state is not None:
                stock.append(stock_line(state))
        if item is None:
            return None
        today = as_of.astimezone(UTC).date()
        return plan_item(sku, item, demand, supply, stock, self.tables.policy, today)


def _rate(value: Any) -> Decimal | None:
    return None if value in (None, "") or Decimal(str(value)) == 0 else Decimal(str(value))


def _slot(slot: Scheduled) -> dict[str, Any]:
    job = slot.job
    return {
        "sequence": slot.sequence,
        "ref": job.ref,
        "kind": job.kind,
        "sku": job.sku,
        "quantity": str(job.quantity),
        "work_centre": job.work_centre,
        "buffer": job.colour,
        "status_percent": None if job.buffer_percent is None else str(job.buffer_percent),
        "due": job.due.isoformat(),
        "start": None if slot.start is None else slot.start.isoformat(),
        "finish": None if slot.finish is None else slot.finish.isoformat(),
        "days": str(slot.days.quantize(Decimal("0.01"))),
        "late": slot.late,
        "promise": None if slot.promise is None else slot.promise.isoformat(),
        "problem": slot.problem,
    }


def _load(slots: list[Scheduled]) -> dict[str, str]:
    """Share of the work centre's day taken, per day (1 = full)."""
    days: dict[date, Decimal] = {}
    for slot in slots:
        for day, share in slot.load.items():
            days[day] = days.get(day, Decimal(0)) + share
    return {day.isoformat(): str(share.quantize(Decimal("0.01"))) for day, share in sorted(days.items())}
