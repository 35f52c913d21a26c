"""Bulk Shopify-shaped traffic for load tests and benchmarks: orders with 1-5 lines, payments and
fulfilments, interleaved across orders the way a busy shop's webhooks arrive."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from simulators.traffic import CARRIERS, FIRST, LAST, line_items

__all__ = ["shop_messages"]


def shop_messages(
    count: int, seed: int = 1, start: datetime | None = None, customers: int = 5000, first_order: int = 1
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` webhook envelopes: roughly 45% orders, 35% payments, 20% fulfilments,
    placed by ``customers`` different customers (fewer: more orders per customer), orders
    numbered from ``first_order`` (so several calls can add to one log)."""
    rng = random.Random(seed)
    moment = start or datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    pending: list[dict[str, Any]] = []
    number = first_order - 1
    produced = 0
    while produced < count:
        if pending and (len(pending) > 6 or rng.random() < 0.45):
            yield pending.pop(rng.randrange(min(len(pending), 3)))
            produced += 1
            continue
        number += 1
        moment += timedelta(seconds=rng.randint(1, 20))
        order, follow_ups = _order(rng, number, moment, customers)
        yield order
        produced += 1
        pending.extend(follow_ups)


def _order(
    rng: random.Random, number: int, moment: datetime, customers: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    order_id = 8_000_000_000 + number
    lines = line_items(rng, order_id * 10, most=5)
    total = sum(Decimal(line["price"]) * line["quantity"] for line in lines)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    stamp = moment.isoformat(timespec="seconds")
    body = {
        "id": order_id,
        "name": f"#{number}",
        "created_at": stamp,
        "updated_at": stamp,
        "currency": "EUR",
        "total_price": str(total),
        "source_name": "web",
        "line_items": lines,
        "customer": {
            "id": 60_000 + rng.randint(1, customers),
            "first_name": first,
            "last_name": last,
            "email": f"{first}.{last}.{number % 5000}@example.com".lower(),
            "updated_at": stamp,
        },
    }
    follow_ups = []
    if rng.random() < 0.8:
        paid_at = (moment + timedelta(minutes=5)).isoformat(timespec="seconds")
        follow_ups.append(
            {
                "headers": {"x-shopify-topic": "orders/paid"},
                "body": {**body, "financial_status": "paid", "updated_at": paid_at},
            }
        )
        if rng.random() < 0.55:
            shipped = (moment + timedelta(hours=6)).isoformat(timespec="seconds")
            tracking = f"{rng.randint(10**9, 10**10 - 1)}"
            follow_ups.append(
                {
                    "headers": {"x-shopify-topic": "fulfillments/create"},
                    "body": {
                        "id": order_id + 1,
                        "order_id": order_id,
                        "status": "success",
                        "shipment_status": "in_transit",
                        "created_at": shipped,
                        "updated_at": shipped,
                        "tracking_company": rng.choice(CARRIERS),
                        "tracking_number": tracking,
                        "tracking_numbers": [tracking],
                        "line_items": [{"sku": line["sku"], "quantity": line["quantity"]} for line in lines],
                    },
                }
            )
    return {"headers": {"x-shopify-topic": "orders/create"}, "body": body}, follow_ups
