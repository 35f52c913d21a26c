"""Simulated sales traffic: realistic Shopify and WooCommerce webhooks plus a feedback export.

Deterministic for a given seed and reference time, so the demo shows the same picture on every
machine: orders in every stage, stuck orders, out-of-order and orphaned messages, bad input.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

__all__ = ["CATALOGUE", "Traffic", "Webhook", "carrier_events", "line_items", "simulate"]

CATALOGUE = [
    ("TEE-BLK-M", "Organic tee, black, M", Decimal("24.90")),
    ("TEE-WHT-L", "Organic tee, white, L", Decimal("24.90")),
    ("HOOD-NVY-M", "Hoodie, navy, M", Decimal("59.00")),
    ("CAP-OLV", "Cap, olive", Decimal("19.50")),
    ("SOCK-3PK", "Socks, 3-pack", Decimal("12.00")),
    ("BAG-CNV", "Canvas bag", Decimal("15.00")),
    ("JKT-RAIN-L", "Rain jacket, L", Decimal("129.00")),
]
FIRST = ["Anna", "Ben", "Chloé", "David", "Emma", "Felix", "Greta", "Hugo", "Ines", "Jonas"]
LAST = ["Meyer", "Schmidt", "Novak", "García", "Rossi", "Dubois", "Jansen", "Kowalski"]
CARRIERS = ["DHL", "UPS", "DPD", "GLS"]

# Target stage for each simulated Shopify order, with weights that make every stage visible.
_PLAN = [
    ("placed", 6),
    ("partially_paid", 4),
    ("paid", 8),
    ("paid_stuck", 3),
    ("partially_shipped", 5),
    ("shipped", 8),
    ("shipped_unpaid", 2),
    ("delivered", 7),
    ("delivered_stale", 3),
    ("confirmed", 8),
    ("cancelled", 4),
    ("returned", 2),
]


@dataclass(frozen=True)
class Webhook:
    system: str
    topic: str
    body: dict[str, Any]
    tamper: str | None = None  # bad_signature | malformed | oversize: deliberately broken


@dataclass
class Traffic:
    webhooks: list[Webhook] = field(default_factory=list)
    feedback_rows: list[dict[str, Any]] = field(default_factory=list)


def _iso(moment: datetime, offset_hours: int = -5) -> str:
    return moment.astimezone(timezone(timedelta(hours=offset_hours))).isoformat(timespec="seconds")


def line_items(rng: random.Random, first_id: int, most: int) -> list[dict[str, Any]]:
    """1 to ``most`` distinct catalogue items as Shopify line items, 1-3 of each."""
    return [
        {
            "id": first_id + index,
            "sku": sku,
            "name": title,
            "title": title,
            "price": str(price),
            "quantity": rng.randint(1, 3),
            "variant_id": 39072856 + index,
        }
        for index, (sku, title, price) in enumerate(rng.sample(CATALOGUE, rng.randint(1, most)))
    ]


def _shopify_order(rng: random.Random, number: int, placed: datetime) -> dict[str, Any]:
    lines = line_items(rng, number * 100, most=4)
    subtotal = sum(Decimal(line["price"]) * line["quantity"] for line in lines)
    shipping = Decimal("4.90")
    first, last = rng.choice(FIRST), rng.choice(LAST)
    order_id = 5_000_000_000 + number
    return {
        "id": order_id,
        "name": f"#{number}",
        "order_number": number,
        "email": f"{first}.{last}@example.com".lower(),
        "created_at": _iso(placed),
        "updated_at": _iso(placed),
        "processed_at": _iso(placed),
        "currency": "EUR",
        "total_price": str(subtotal + shipping),
        "subtotal_price": str(subtotal),
        "financial_status": "pending",
        "fulfillment_status": None,
        "source_name": "web",
        "line_items": lines,
        "customer": {
            "id": 7_000_000 + rng.randint(1, 40),
            "first_name": first,
            "last_name": last,
            "email": f"{first}.{last}@example.com".lower(),
            "phone": None,
            "accepts_marketing": rng.random() < 0.4,
            "default_address": {
                "address1": f"{rng.randint(1, 120)} Market Street",
                "address2": "",
                "city": "Berlin",
                "zip": f"10{rng.randint(100, 999)}",
                "province_code": "BE",
                "country_code": "DE",
                "phone": f"+49 30 {rng.randint(1000000, 9999999)}",
            },
        },
    }


def _fulfillment(
    order: dict[str, Any],
    number: int,
    lines: list[dict[str, Any]],
    status: str,
    shipment_status: str | None,
    when: datetime,
    carrier: str,
    tracking: str,
) -> dict[str, Any]:
    return {
        "id": 900_000 + number,
        "order_id": order["id"],
        "status": status,
        "shipment_status": shipment_status,
        "created_at": _iso(when),
        "updated_at": _iso(when),
        "tracking_company": carrier,
        "tracking_number": tracking,
        "tracking_numbers": [tracking],
        "line_items": lines,
    }


def simulate(orders: int = 60, seed: int = 7, now: datetime | None = None) -> Traffic:
    """Generate the demo's traffic: ``orders`` Shopify orders, a few WooCommerce ones, bad input."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    traffic = Traffic()
    stages = [stage for stage, weight in _PLAN for _ in range(weight)]
    for index in range(orders):
        number = 1001 + index
        stage = stages[index % len(stages)]
        placed = now - timedelta(days=rng.uniform(0.5, 2.0))
        if stage in ("delivered", "confirmed", "returned"):
            placed = now - timedelta(days=rng.uniform(3.0, 5.0))
        if stage in ("paid_stuck", "delivered_stale", "shipped_unpaid"):
            placed = now - timedelta(days=14)
        order = _shopify_order(rng, number, placed)
        _lifecycle(traffic, rng, order, number, stage, placed, now)
    _woocommerce(traffic, rng, now)
    _bad_input(traffic, rng, now)
    return traffic


def _lifecycle(
    traffic: Traffic,
    rng: random.Random,
    order: dict[str, Any],
    number: int,
    stage: str,
    placed: datetime,
    now: datetime,
) -> None:
    hooks = traffic.webhooks
    created = Webhook("shopify", "orders/create", order)
    paid_at = placed + timedelta(minutes=rng.randint(2, 30))
    paid = Webhook(
        "shopify", "orders/paid", {**order, "financial_status": "paid", "updated_at": _iso(paid_at)}
    )
    # Every ninth order's payment overtakes the order itself: it must wait, then go through.
    if number % 9 == 0 and stage not in ("placed", "cancelled", "partially_paid", "shipped_unpaid"):
        hooks.extend([paid, created])
    else:
        hooks.append(created)
        if stage not in ("placed", "cancelled", "partially_paid", "shipped_unpaid"):
            hooks.append(paid)
    if number % 11 == 0:
        hooks.append(created)  # a re-delivered webhook: stored once, no new event
    if stage == "partially_paid":
        half = (Decimal(order["total_price"]) / 2).quantize(Decimal("0.01"))
        hooks.append(
            Webhook(
                "shopify",
                "order_transactions/create",
                {
                    "id": 800_000 + number,
                    "order_id": order["id"],
                    "kind": "capture",
                    "status": "success",
                    "amount": str(half),
                    "currency": "EUR",
                    "created_at": _iso(paid_at),
                },
            )
        )
    if stage == "cancelled":
        hooks.append(
            Webhook(
                "shopify",
                "orders/cancelled",
                {
                    **order,
                    "cancelled_at": _iso(placed + timedelta(hours=3)),
                    "cancel_reason": "customer",
                },
            )
        )
    if stage == "paid_stuck":
        return

    def before_now(moment: datetime) -> datetime:
        return min(moment, now - timedelta(minutes=5))

    carrier = rng.choice(CARRIERS)
    tracking = f"{carrier[:2]}{rng.randint(10**9, 10**10 - 1)}"
    shipped_at = before_now(placed + timedelta(hours=rng.randint(6, 20)))
    lines = order["line_items"]
    if stage == "partially_shipped" and len(lines) == 1:
        lines[0]["quantity"] = max(lines[0]["quantity"], 2)
    if stage == "partially_shipped":
        part = [{**lines[0], "quantity": 1}]
        hooks.append(
            Webhook(
                "shopify",
                "fulfillments/create",
                _fulfillment(order, number, part, "success", "in_transit", shipped_at, carrier, tracking),
            )
        )
        return
    if stage in (
        "shipped",
        "shipped_unpaid",
        "delivered",
        "delivered_stale",
        "confirmed",
        "returned",
    ):
        hooks.append(
            Webhook(
                "shopify",
                "fulfillments/create",
                _fulfillment(order, number, lines, "success", "in_transit", shipped_at, carrier, tracking),
            )
        )
    if stage in ("delivered", "delivered_stale", "confirmed", "returned"):
        delivered_at = before_now(shipped_at + timedelta(days=1, hours=rng.randint(1, 8)))
        hooks.append(
            Webhook(
                "shopify",
                "fulfillments/update",
                _fulfillment(order, number, lines, "success", "delivered", delivered_at, carrier, tracking),
            )
        )
        local = before_now(delivered_at + timedelta(hours=5)).strftime("%Y-%m-%d %H:%M:%S")
        if stage == "confirmed":
            rating, comment = str(rng.randint(3, 5)), rng.choice(["", "great", "fast delivery"])
            traffic.feedback_rows.append(_feedback("confirmation", order, local, rating, comment))
        if stage == "returned":
            traffic.feedback_rows.append(_feedback("return", order, local, "", "wrong size"))


def _feedback(kind: str, order: dict[str, Any], at: str, rating: str, comment: str) -> dict[str, Any]:
    """A row of the feedback tool's CSV export (see mappings/feedback)."""
    return {
        "type": kind,
        "order_system": "shopify",
        "order_ref": str(order["id"]),
        "at": at,
        "rating": rating,
        "comment": comment,
    }


def _woocommerce(traffic: Traffic, rng: random.Random, now: datetime) -> None:
    for index in range(6):
        order_id = 3000 + index
        placed = (now - timedelta(hours=rng.randint(3, 30))).replace(tzinfo=None)
        sku, title, price = rng.choice(CATALOGUE)
        qty = rng.randint(1, 2)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        body: dict[str, Any] = {
            "id": order_id,
            "number": str(order_id),
            "status": "pending",
            "currency": "EUR",
            "created_via": "checkout",
            "customer_id": 0,
            "customer_note": "",
            "date_created_gmt": placed.isoformat(timespec="seconds"),
            "date_modified_gmt": placed.isoformat(timespec="seconds"),
            "date_paid_gmt": None,
            "date_completed_gmt": None,
            "transaction_id": "",
            "total": str(price * qty + Decimal("4.90")),
            "billing": {
                "first_name": first,
                "last_name": last,
                "company": "",
                "email": f"{first}@example.org",
                "phone": f"030 {rng.randint(1000000, 9999999)}",
                "address_1": "Hauptstraße 5",
                "address_2": "",
                "city": "Hamburg",
                "state": "",
                "postcode": "20095",
                "country": "DE",
            },
            "line_items": [
                {
                    "id": 1,
                    "name": title,
                    "product_id": 90 + index,
                    "sku": sku,
                    "quantity": qty,
                    "price": float(price),
                }
            ],
            "refunds": [],
        }
        traffic.webhooks.append(Webhook("woocommerce", "order.created", body))
        if index % 3 != 0:
            paid_at = (placed + timedelta(minutes=20)).isoformat(timespec="seconds")
            traffic.webhooks.append(
                Webhook(
                    "woocommerce",
                    "order.updated",
                    {
                        **body,
                        "status": "processing",
                        "transaction_id": f"pi_{order_id}",
                        "date_paid_gmt": paid_at,
                    },
                )
            )
        if index % 3 == 2:
            done = (placed + timedelta(hours=5)).isoformat(timespec="seconds")
            traffic.webhooks.append(
                Webhook(
                    "woocommerce",
                    "order.updated",
                    {
                        **body,
                        "status": "completed",
                        "date_completed_gmt": done,
                        "date_modified_gmt": done,
                    },
                )
            )


def _bad_input(traffic: Traffic, rng: random.Random, now: datetime) -> None:
    hooks = traffic.webhooks
    hooks.append(Webhook("shopify", "products/update", {"id": 632910392, "title": "IPod Nano - 8GB"}))
    hooks.append(
        Webhook(
            "shopify",
            "order_transactions/create",
            {
                "id": 777_001,
                "order_id": 5_000_001_001,
                "kind": "capture",
                "status": "success",
                "amount": "10.00",
                "currency": "USD",
                "created_at": _iso(now),
            },
        )
    )
    hooks.append(
        Webhook(
            "shopify",
            "order_transactions/create",
            {
                "id": 777_002,
                "order_id": 5_999_999_999,
                "kind": "capture",
                "status": "success",
                "amount": "49.00",
                "currency": "EUR",
                "created_at": _iso(now - timedelta(hours=2)),
            },
        )
    )
    hooks.append(
        Webhook(
            "shopify",
            "orders/create",
            {
                "id": 5_000_009_999,
                "name": "#9999",
                "currency": "EUR",
                "total_price": "abc",
                "line_items": [],
                "created_at": _iso(now),
            },
        )
    )
    hooks.append(Webhook("shopify", "orders/create", {"id": 1}, tamper="bad_signature"))
    hooks.append(Webhook("shopify", "orders/create", {"id": 2}, tamper="malformed"))
    hooks.append(Webhook("shopify", "orders/create", {"id": 3}, tamper="oversize"))


def carrier_events(traffic: Traffic, parcels: int = 4, now: datetime | None = None) -> list[Webhook]:
    """The carrier's tracking events for parcels the shop reported in transit: out for delivery,
    and delivered for every other one (events name only the tracking number)."""
    now = now or datetime.now(UTC)
    in_transit = [
        hook.body
        for hook in traffic.webhooks
        if hook.system == "shopify"
        and hook.topic == "fulfillments/create"
        and hook.body.get("shipment_status") == "in_transit"
    ][:parcels]
    events = []
    for index, parcel in enumerate(in_transit):
        sent = datetime.fromisoformat(parcel["updated_at"]).astimezone(UTC)
        steps = (
            [("out_for_delivery", 20), ("delivered", 26)] if index % 2 == 0 else [("out_for_delivery", 20)]
        )
        for status, hours in steps:
            at = min(sent + timedelta(hours=hours), now - timedelta(minutes=5)).isoformat()
            tracking = parcel["tracking_number"]
            body = {
                "id": f"evt_{tracking}_{status}",
                "object": "Event",
                "description": "tracker.updated",
                "created_at": at,
                "result": {
                    "object": "Tracker",
                    "tracking_code": tracking,
                    "carrier": parcel["tracking_company"],
                    "status": status,
                    "status_detail": status,
                    "updated_at": at,
                },
            }
            events.append(Webhook("carrier", "tracker.updated", body))
    return events
