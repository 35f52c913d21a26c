"""One buffered item's plan: its demand, supply and stock turned into DDMRP figures, with the
inputs that made them (so ``hub plan explain`` can show which orders drove ADU and qualified
demand).

Pure: the planning tables (hub/planning) and the as-of replay (audit) feed the same function, so
a plan reconstructed for a past instant is computed exactly as the live one was.

Definitions (README, "Demand-driven planning"):

* usage: sales-order lines of every channel, net of cancellations, on their due date (the date
  the customer asked for, else the day the order was placed);
* ADU over ``window`` days: past (the window before today), forward (today and after) or blended;
* decoupled lead time: the item master's lead time;
* on hand: what the warehouses count, plus receipts since the count; allocated stock is shown but
  not subtracted again, as the orders it is allocated to are in qualified demand until shipped;
* on order: planned and released supply orders (production and purchase) not yet completed;
* qualified demand: open (unshipped) quantity past due, due today, and on days within the spike
  horizon (default: the lead time) whose open demand reaches the order spike threshold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from projections.ddmrp import (
    BufferProfile,
    Demand,
    average_daily_usage,
    buffer_status,
    qualified_demand,
    recommend,
    zones,
)

__all__ = [
    "OPEN_SUPPLY",
    "DemandLine",
    "PlanningPolicy",
    "StockLine",
    "SupplyLine",
    "plan_item",
]

OPEN_SUPPLY = frozenset({"planned", "released"})
ZERO = Decimal(0)


@dataclass(frozen=True)
class PlanningPolicy:
    adu_window_days: int
    adu_method: str
    spike_horizon_days: int | None  # None: the item's lead time
    profiles: Mapping[str, BufferProfile]


@dataclass(frozen=True)
class DemandLine:
    sku: str
    order_id: str
    order_ref: str
    system: str
    channel: str
    quantity: Decimal  # ordered, 0 once cancelled
    open_quantity: Decimal  # not yet shipped
    due: date


@dataclass(frozen=True)
class SupplyLine:
    order_ref: str
    kind: str
    quantity: Decimal
    due: date
    status: str
    work_centre: str | None


@dataclass(frozen=True)
class StockLine:
    location: str
    on_hand: Decimal
    allocated: Decimal


def _number(value: Any, default: Decimal = ZERO) -> Decimal:
    return default if value in (None, "") else Decimal(str(value))


def plan_item(
    sku: str,
    item: Mapping[str, Any],
    demand: Iterable[DemandLine],
    supply: Iterable[SupplyLine],
    stock: Iterable[StockLine],
    policy: PlanningPolicy,
    today: date,
) -> dict[str, Any] | None:
    """The item's buffer document, or None for an item without a buffer profile (not buffered)."""
    profile_name = item.get("buffer_profile")
    if not profile_name:
        return None
    lines, supply, stock = list(demand), list(supply), list(stock)
    lead_time = _number(item.get("lead_time_days"))
    minimum, multiple = _number(item.get("minimum_order")), _number(item.get("order_multiple"))
    document: dict[str, Any] = {
        "sku": sku,
        "description": item.get("description"),
        "profile": profile_name,
        "lead_time_days": str(lead_time),
        "minimum_order": str(minimum),
        "order_multiple": str(multiple),
        "work_centre": item.get("work_centre"),
        "capacity_per_day": item.get("capacity_per_day"),
        "computed_on": today.isoformat(),
    }
    profile = policy.profiles.get(profile_name)
    if profile is None:
        known = ", ".join(sorted(policy.profiles)) or "none"
        return document | {
            "colour": "unplanned",
            "problem": f"buffer profile {profile_name!r} is not in [planning.profiles] (known: {known})",
        }
    if item.get("lead_time_days") in (None, ""):
        return document | {"colour": "unplanned", "problem": "no lead_time_days in the item master"}
    window = policy.adu_window_days
    usage = [Demand(line.order_ref, line.quantity, line.due) for line in lines if line.quantity > 0]
    adu = average_daily_usage(usage, today, window, policy.adu_method)
    buffer = zones(adu, lead_time, profile, minimum_order=minimum)
    horizon = policy.spike_horizon_days if policy.spike_horizon_days is not None else int(lead_time)
    open_demand = [
        Demand(line.order_ref, line.open_quantity, line.due) for line in lines if line.open_quantity > 0
    ]
    qualified = qualified_demand(open_demand, today, horizon, buffer.red, profile)
    on_hand = sum((s.on_hand for s in stock), ZERO)
    open_supply = [s for s in supply if s.status in OPEN_SUPPLY]
    on_order = sum((s.quantity for s in open_supply), ZERO)
    net_flow = on_hand + on_order - qualified.total
    percent, colour = buffer_status(net_flow, buffer)
    quantity = recommend(net_flow, buffer, minimum_order=minimum, order_multiple=multiple)
    spike_days = set(qualified.spike_days)
    adu_start = today - timedelta(days=window) if policy.adu_method != "forward" else today
    adu_end = today + timedelta(days=window - 1) if policy.adu_method != "past" else today - timedelta(days=1)
    return document | {
        "colour": colour,
        "status_percent": str(percent),
        "adu": str(adu.quantize(Decimal("0.001"))),
        "adu_method": policy.adu_method,
        "adu_window_days": window,
        "zones": {
            "red_base": str(buffer.red_base),
            "red_safety": str(buffer.red_safety),
            "yellow": str(buffer.yellow),
            "green": str(buffer.green),
            "top_of_red": str(buffer.top_of_red),
            "top_of_yellow": str(buffer.top_of_yellow),
            "top_of_green": str(buffer.top_of_green),
        },
        "on_hand": str(on_hand),
        "allocated": str(sum((s.allocated for s in stock), ZERO)),
        "on_order": str(on_order),
        "qualified_demand": {
            "past_due": str(qualified.past_due),
            "due_today": str(qualified.due_today),
            "spikes": str(qualified.spikes),
            "spike_threshold": str(qualified.threshold),
            "spike_horizon_days": horizon,
            "total": str(qualified.total),
        },
        "net_flow": str(net_flow),
        "recommendation": (
            {"quantity": str(quantity), "due": (today + timedelta(days=int(lead_time))).isoformat()}
            if quantity > 0
            else None
        ),
        "inputs": {
            "adu_lines": [
                _demand_row(line, line.quantity)
                for line in sorted(lines, key=_by_due)
                if line.quantity > 0 and adu_start <= line.due <= adu_end
            ],
            "qualified_lines": [
                _demand_row(line, line.open_quantity) | {"why": _why(line.due, today, spike_days)}
                for line in sorted(lines, key=_by_due)
                if line.open_quantity > 0 and (line.due <= today or line.due in spike_days)
            ],
            "supply": [
                {
                    "order_ref": s.order_ref,
                    "kind": s.kind,
                    "quantity": str(s.quantity),
                    "due": s.due.isoformat(),
                    "status": s.status,
                }
                for s in sorted(open_supply, key=lambda s: (s.due, s.order_ref))
            ],
            "stock": [
                {"location": s.location, "on_hand": str(s.on_hand), "allocated": str(s.allocated)}
                for s in sorted(stock, key=lambda s: s.location)
            ],
        },
    }


def _by_due(line: DemandLine) -> tuple[date, str]:
    return line.due, line.order_ref


def _demand_row(line: DemandLine, quantity: Decimal) -> dict[str, Any]:
    return {
        "order_ref": line.order_ref,
        "system": line.system,
        "channel": line.channel,
        "quantity": str(quantity),
        "due": line.due.isoformat(),
    }


def _why(due: date, today: date, spike_days: set[date]) -> str:
    if due < today:
        return "past due"
    return "due today" if due == today else "spike"
