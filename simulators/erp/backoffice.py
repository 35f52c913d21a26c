"""The ERP's own day for the demo: master data, orders taken by phone, and the back office
working through orders the web shops handed over (invoice, payment, delivery)."""

from __future__ import annotations

import random
from decimal import Decimal

from simulators.erp.book import ErpBook, uncomma
from simulators.traffic import CATALOGUE, FIRST, LAST

__all__ = ["UNLISTED_SKU", "seed_erp", "work_through"]

# Sold in the web shop but never set up in the ERP's item master: orders with it are refused.
UNLISTED_SKU = "JKT-RAIN-L"
_CITIES = [("50667", "Köln"), ("10115", "Berlin"), ("80331", "München"), ("1010", "Wien")]


def seed_erp(book: ErpBook, rng: random.Random, phone_orders: int = 6) -> None:
    """Items, debtors (people and firms) and orders the ERP took itself, some paid and shipped."""
    for sku, description, _price in CATALOGUE:
        if sku != UNLISTED_SKU:
            book.add_item(sku, description, lead_time_days=rng.choice([5, 10, 15]), lot_size=50, moq=100)
            book.set_stock(sku, "WH1", on_hand=rng.randint(50, 400), allocated=rng.randint(0, 40))
    debtors = []
    for number in range(8):
        postcode, city = rng.choice(_CITIES)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        if number % 4 == 3:
            debtors.append(
                book.add_debtor(
                    f"{last} Handels GmbH",
                    street=f"Industriestr. {number + 3}",
                    postcode=postcode,
                    city=city,
                    phone=f"0221 555{number:03d}",
                    vat_id=f"DE{rng.randint(100000000, 999999999)}",
                )
            )
        else:
            debtors.append(
                book.add_debtor(
                    last,
                    name2=first,
                    street=f"Hauptstr. {number + 1}",
                    postcode=postcode,
                    city=city,
                    country="AT" if city == "Wien" else "DE",
                    phone=f"+49 30 {rng.randint(1000000, 9999999)}",
                    email=f"{first.lower()}.{last.lower()}@example.org".replace("é", "e"),
                )
            )
        book.tick()
    items = [(sku, description, price) for sku, description, price in CATALOGUE if sku != UNLISTED_SKU]
    for number in range(phone_orders):
        book.tick(60)
        chosen = rng.sample(items, 2)
        lines = [(sku, desc, Decimal(rng.randint(1, 4)), price) for sku, desc, price in chosen]
        order = book.add_order(rng.choice(debtors), lines)
        if number % 3 != 2:
            invoice = book.invoice(order)
            total = sum((q * p for _, _, q, p in lines), Decimal(0))
            book.pay(invoice, total if number % 3 == 0 else (total / 2).quantize(Decimal("0.01")))
            book.deliver(order, "Z" if number % 2 == 0 else "V")
    book.add_production_order(items[0][0], 200, book.clock)


def work_through(book: ErpBook, order_numbers: list[str]) -> dict[str, str]:
    """Invoice, collect and ship the handed-over orders, each to a different point."""
    done = {}
    for index, number in enumerate(order_numbers):
        book.tick(30)
        invoice = book.invoice(number)
        total = uncomma(book.orders.records[number]["Total"])
        step = index % 4
        if step == 0:
            book.pay(invoice, total)
            book.deliver(number, "Z")
            done[number] = "paid in full, delivered"
        elif step == 1:
            book.pay(invoice, (total / 2).quantize(Decimal("0.01")))
            done[number] = "partially paid"
        elif step == 2:
            book.pay(invoice, total)
            book.deliver(number, "V")
            done[number] = "paid, shipped"
        else:
            done[number] = "invoiced, awaiting payment"
    return done
