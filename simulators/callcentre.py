"""The call centre's exports for the demo: the telephony system's call list (CSV) and the orders
agents took on the phone (JSON Lines), for callers the company already knows from other channels
— and one caller who withheld the number."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from simulators.crm.seed import CrmPerson
from simulators.erp.backoffice import UNLISTED_SKU
from simulators.traffic import CATALOGUE

__all__ = ["write_call_centre_files"]

AGENTS = ("mara", "jon", "pia")


def write_call_centre_files(
    folder: Path, callers: Sequence[CrmPerson], rng: random.Random, now: datetime
) -> tuple[Path, Path]:
    """Each caller calls once or twice; the first call of every other caller ends in an order.
    Local times (Europe/Berlin), numbers as the telephony system shows them."""
    items = [(sku, text, price) for sku, text, price in CATALOGUE if sku != UNLISTED_SKU]
    calls, orders = [], []
    for number, caller in enumerate(callers, start=1):
        assert caller.phone, "a caller has a number"
        shown = caller.phone.replace("+49", "0", 1)
        for attempt in range(rng.randint(1, 2)):
            at = now - timedelta(days=rng.randint(1, 12), minutes=rng.randint(0, 600))
            order_no = f"CC-{1000 + number}" if attempt == 0 and number % 2 == 1 else ""
            calls.append(
                {
                    "call_id": f"C-{number:03d}-{attempt}",
                    "started_at": at.strftime("%Y-%m-%d %H:%M:%S"),
                    "caller_id": f"T-{number:06d}",
                    "caller_number": shown,
                    "agent": rng.choice(AGENTS),
                    "direction": "in",
                    "duration_s": str(rng.randint(60, 700)),
                    "outcome": "order" if order_no else rng.choice(("info", "complaint", "callback")),
                    "order_no": order_no,
                }
            )
            if order_no:
                chosen = rng.sample(items, 2)
                lines = [
                    {"sku": s, "description": d, "qty": str(rng.randint(1, 3)), "price": str(p)}
                    for s, d, p in chosen
                ]
                total = sum(Decimal(line["qty"]) * Decimal(line["price"]) for line in lines)
                orders.append(
                    {
                        "order_no": order_no,
                        "taken_at": (at + timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%S"),
                        "currency": "EUR",
                        "total": str(total),
                        "caller": {
                            "id": f"T-{number:06d}",
                            "number": shown,
                            "first_name": caller.given,
                            "last_name": caller.family,
                            "street": caller.street,
                            "postcode": caller.postcode,
                            "city": caller.city,
                            "country": caller.country,
                        },
                        "lines": lines,
                    }
                )
    calls.append(
        {
            "call_id": "C-999-0",
            "started_at": (now - timedelta(hours=3)).strftime("%Y-%m-%d %H:%M:%S"),
            "caller_id": "T-000000",
            "caller_number": "anonymous",
            "agent": "jon",
            "direction": "in",
            "duration_s": "40",
            "outcome": "info",
            "order_no": "",
        }
    )
    calls.sort(key=lambda c: c["started_at"])
    calls_path, orders_path = folder / "calls.csv", folder / "phone-orders.jsonl"
    with calls_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(calls[0]))
        writer.writeheader()
        writer.writerows(calls)
    orders_path.write_text(
        "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in orders), encoding="utf-8"
    )
    return calls_path, orders_path
