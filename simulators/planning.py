"""The planner's side of the demo: the item file that says which items are buffered (profile,
work centre, daily capacity), and a wholesale partner's X12 850 purchase orders — large orders
for the coming days, the kind of demand that makes order spikes."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from simulators.traffic import CATALOGUE
from simulators.warehouse import drop_file

__all__ = ["PLANNER_ITEMS", "PurchaseOrder", "drop_planning_files", "x12_purchase_orders"]

# sku -> (buffer profile, work centre, units the work centre makes of it per day)
PLANNER_ITEMS = {
    "TEE-BLK-M": ("M21", "SEW-1", 60),
    "TEE-WHT-L": ("M21", "SEW-1", 60),
    "HOOD-NVY-M": ("M21", "SEW-1", 25),
    "CAP-OLV": ("M21", "KNIT-1", 80),
    "SOCK-3PK": ("M21", "KNIT-1", 150),
    "BAG-CNV": ("B11", "", ""),  # bought in: buffered, but made nowhere here
}
_PARTNER, _US = "RETAILCHAIN01", "HUBAPPAREL"


def drop_planning_files(planner: Path, partner: Path, rng: random.Random, today: date) -> tuple[Path, Path]:
    """``items-*.csv`` (the planner's file) and ``wholesale-*.x12`` (the partner's interchange),
    each in its sender's drop folder."""
    stamp = today.strftime("%Y%m%d")
    items = drop_file(
        planner,
        f"items-{stamp}.csv",
        "sku,description,lead_time_days,minimum_order,order_multiple,buffer_profile,work_centre,"
        "capacity_per_day,updated_at",
        [
            f"{sku},,,,,{profile},{centre},{rate},{today.isoformat()} 06:00:00"
            for sku, (profile, centre, rate) in PLANNER_ITEMS.items()
        ],
    )
    return items, drop_file(partner, f"wholesale-{stamp}.x12", None, [_interchange(rng, today)])


def _interchange(rng: random.Random, today: date) -> str:
    """Two purchase orders, delivery wanted in 2 and 5 days, with the chain's usual quantities."""
    prices = {sku: price for sku, _, price in CATALOGUE}
    orders = [
        PurchaseOrder(
            f"WS-{today:%y%m%d}-{number}",
            today,
            today + timedelta(days=days),
            [(sku, rng.choice([120, 160, 200]), prices[sku] / 2) for sku in skus],  # wholesale prices
        )
        for number, (days, skus) in enumerate(
            ((2, ["TEE-BLK-M", "HOOD-NVY-M"]), (5, ["TEE-WHT-L", "CAP-OLV"])), start=1
        )
    ]
    at = datetime.combine(today, datetime.min.time()) + timedelta(hours=5)
    return x12_purchase_orders(
        orders, sender=_PARTNER, receiver=_US, control=rng.randint(1, 999_999_999), at=at
    )


@dataclass(frozen=True)
class PurchaseOrder:
    number: str
    placed: date
    wanted: date  # DTM*002, the delivery date requested
    lines: list[tuple[str, int, Decimal]]  # sku, quantity, unit price


def x12_purchase_orders(
    orders: list[PurchaseOrder], *, sender: str, receiver: str, control: int, at: datetime
) -> str:
    """An X12 4010 interchange of 850s, one transaction set per order (fixed-width ISA)."""
    number = f"{control:09d}"
    segments = [
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{sender:<15}*ZZ*{receiver:<15}*{at:%y%m%d}*{at:%H%M}*U*00401*"
        f"{number}*0*P*>",
        f"GS*PO*{sender}*{receiver}*{at:%Y%m%d}*{at:%H%M}*1*X*004010",
    ]
    for index, order in enumerate(orders, start=1):
        body = [
            f"BEG*00*SA*{order.number}**{order.placed:%Y%m%d}",
            "CUR*BY*EUR",
            f"DTM*002*{order.wanted:%Y%m%d}",
        ]
        for line, (sku, quantity, price) in enumerate(order.lines, start=1):
            body += [f"PO1*{line}*{quantity}*EA*{price:.2f}*TE*VN*{sku}", f"PID*F****{sku}"]
        total = sum((quantity * price for _, quantity, price in order.lines), Decimal(0))
        body += [f"CTT*{len(order.lines)}", f"AMT*1*{total:.2f}"]
        st = f"{index:04d}"
        segments += [f"ST*850*{st}", *body, f"SE*{len(body) + 2}*{st}"]
    segments += [f"GE*{len(orders)}*1", f"IEA*1*{number}"]
    return "~\n".join(segments) + "~"
