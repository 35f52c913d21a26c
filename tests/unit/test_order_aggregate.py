"""The Order aggregate: stages, idempotent commands and the business rules that refuse input."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from aggregates import DomainRuleViolation, Order

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PROVENANCE = {"system": "shop", "message_id": "m", "received_at": T0.isoformat(), "mapping": "t@1"}


def placed(total: str = "30.00") -> Order:
    return Order.place(
        system="shop",
        order_ref="1001",
        channel="web",
        customer_ref=None,
        currency="EUR",
        total_amount=Decimal(total),
        lines=[
            {"sku": "A", "description": "", "quantity": "2", "unit_price": "10.00"},
            {"sku": "B", "description": "", "quantity": "1", "unit_price": "10.00"},
        ],
        placed_at=T0,
        aliases=[],
        provenance=PROVENANCE,
    )


def pay(
    order: Order, payment_id: str, amount: str, status: str = "captured", currency: str | None = "EUR"
) -> None:
    order.record_payment(
        payment_id=payment_id,
        status=status,
        amount=Decimal(amount),
        currency=currency,
        occurred_at=T0 + timedelta(hours=1),
        provenance=PROVENANCE,
    )


def ship(order: Order, shipment_id: str, status: str, lines: dict[str, str] | None = None) -> None:
    order.record_shipment(
        shipment_id=shipment_id,
        status=status,
        carrier="DHL",
        tracking_number="T1",
        lines=lines or {},
        occurred_at=T0 + timedelta(days=1),
        provenance=PROVENANCE,
    )


def test_an_order_walks_through_every_stage_to_confirmation() -> None:
    order = placed()
    assert order.progress.stage == "placed"
    pay(order, "p1", "10.00", "authorised")
    assert order.progress.stage == "placed"  # authorised money is not paid
    pay(order, "p1", "10.00")
    assert order.progress.stage == "partially_paid"
    pay(order, "p2", "20.00")
    assert order.progress.stage == "paid"
    assert order.progress.paid_at is not None
    ship(order, "s1", "in_transit", {"A": "2"})
    assert order.progress.stage == "partially_shipped"
    ship(order, "s2", "handed_over", {"B": "1"})
    assert order.progress.stage == "shipped"
    ship(order, "s1", "delivered")
    assert order.progress.stage == "shipped"  # one parcel still on its way
    ship(order, "s2", "delivered")
    assert order.progress.stage == "delivered"
    order.confirm_delivery(confirmed_at=T0 + timedelta(days=3), rating=5, comment=None, provenance=PROVENANCE)
    assert order.progress.stage == "confirmed"


def test_repeated_facts_trigger_no_events() -> None:
    order = placed()
    pay(order, "p1", "30.00")
    ship(order, "s1", "in_transit")
    before = len(order.collect_events())
    pay(order, "p1", "30.00")
    ship(order, "s1", "in_transit")
    order.confirm_delivery(confirmed_at=T0, rating=None, comment=None, provenance=PROVENANCE)
    order.confirm_delivery(confirmed_at=T0, rating=None, comment=None, provenance=PROVENANCE)
    assert before == 3
    assert len(order.collect_events()) == 1


def test_refunds_are_counted_and_cannot_exceed_what_was_paid() -> None:
    order = placed()
    pay(order, "p1", "30.00")
    pay(order, "r1", "12.50", "refunded")
    assert order.progress.refunded_amount == Decimal("12.50")
    with pytest.raises(DomainRuleViolation, match=r"exceeds the 17\.50 EUR paid"):
        pay(order, "r2", "20.00", "refunded")


def test_payment_in_another_currency_is_refused() -> None:
    with pytest.raises(DomainRuleViolation, match="is in USD but order 1001 is in EUR"):
        pay(placed(), "p1", "30.00", currency="USD")


def test_payment_without_currency_is_in_the_orders_currency() -> None:
    order = placed()
    pay(order, "p1", "30.00", currency=None)
    assert order.progress.stage == "paid"


def test_shipment_of_unordered_goods_is_refused() -> None:
    with pytest.raises(DomainRuleViolation, match="SKU\\(s\\) Z"):
        ship(placed(), "s1", "in_transit", {"Z": "1"})


def test_an_order_that_has_shipped_cannot_be_cancelled_but_is_returned() -> None:
    order = placed()
    ship(order, "s1", "in_transit")
    with pytest.raises(DomainRuleViolation, match="cannot be cancelled"):
        order.cancel(cancelled_at=T0, reason=None, provenance=PROVENANCE)
    ship(order, "return-1", "returned")
    assert order.progress.stage == "returned"


def test_cancel_before_shipping() -> None:
    order = placed()
    order.cancel(cancelled_at=T0, reason="customer", provenance=PROVENANCE)
    assert order.progress.stage == "cancelled"


def test_every_event_carries_provenance() -> None:
    order = placed()
    pay(order, "p1", "30.00")
    assert all(event.provenance == PROVENANCE for event in order.collect_events())
