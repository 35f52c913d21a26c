"""The Order aggregate: stages by event time, idempotent commands, and facts recorded then flagged."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from aggregates import Order, OrderProgress, PaymentTolerance
from aggregates.order_facts import Fact, content_fact
from projections import Thresholds, apply_event, public_view

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
THRESHOLDS = Thresholds(timedelta(hours=48), timedelta(hours=24), timedelta(days=7))
PROVENANCE = {"system": "shop", "message_id": "m", "received_at": T0.isoformat(), "mapping": "t@1"}


def placed(total: str = "30.00", currency: str = "EUR") -> Order:
    return Order.place(
        system="shop",
        order_ref="1001",
        channel="web",
        customer_ref=None,
        currency=currency,
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


def logged(order: Order) -> list:
    """Every event the order has triggered so far (collect_events hands each out once)."""
    return order.__dict__.setdefault("_test_log", [])


def view(order: Order) -> dict:
    """The order as the tracking view shows it, anomalies judged long after the facts."""
    events = logged(order)
    events.extend(order.collect_events())
    tracked = None
    for event in events:
        tracked = apply_event(tracked, event)
    assert tracked is not None
    return public_view(tracked.to_document(), THRESHOLDS, T0 + timedelta(days=365))


def codes(order: Order) -> list[str]:
    return [a["code"] for a in view(order)["anomalies"]]


def test_a_refund_above_what_was_paid_is_recorded_and_flagged() -> None:
    order = placed()
    pay(order, "p1", "30.00")
    pay(order, "r1", "12.50", "refunded")
    assert order.progress.refunded_amount == Decimal("12.50")
    pay(order, "r2", "20.00", "refunded")
    assert order.progress.refunded_amount == Decimal("32.50")
    assert "refund_exceeds_paid" in codes(order)


def test_a_payment_in_another_currency_is_recorded_flagged_and_not_counted() -> None:
    order = placed()
    pay(order, "p1", "30.00", currency="USD")
    assert order.progress.stage == "placed"
    shown = view(order)
    assert shown["payments"][0]["currency"] == "USD"
    assert [a["code"] for a in shown["anomalies"]] == ["payment_currency"]


def test_payment_without_currency_is_in_the_orders_currency() -> None:
    order = placed()
    pay(order, "p1", "30.00", currency=None)
    assert order.progress.stage == "paid"


def test_a_shipment_of_unordered_goods_is_recorded_and_flagged() -> None:
    order = placed()
    ship(order, "s1", "in_transit", {"Z": "1"})
    assert order.progress.shipments["s1"]["lines"] == {"Z": "1"}
    assert "shipment_not_ordered" in codes(order)


def test_a_cancellation_after_hand_over_is_recorded_and_a_return_expected() -> None:
    order = placed()
    ship(order, "s1", "in_transit")
    order.cancel(cancelled_at=T0 + timedelta(days=2), reason=None, provenance=PROVENANCE)
    assert order.progress.stage == "cancelled"
    assert "cancelled_after_shipment" in codes(order)
    ship(order, "return-1", "returned")
    assert order.progress.stage == "returned"
    assert "cancelled_after_shipment" not in codes(order)


def test_cancel_before_shipping() -> None:
    order = placed()
    order.cancel(cancelled_at=T0, reason="customer", provenance=PROVENANCE)
    assert order.progress.stage == "cancelled"
    assert codes(order) == []


def test_a_confirmation_before_delivery_waits_for_the_delivery() -> None:
    order = placed()
    pay(order, "p1", "30.00")
    order.confirm_delivery(
        confirmed_at=T0 + timedelta(hours=2), rating=4, comment=None, provenance=PROVENANCE
    )
    assert order.progress.stage == "paid"
    assert codes(order) == ["confirmed_before_delivery", "paid_not_shipped"]
    ship(order, "s1", "delivered")
    assert order.progress.stage == "confirmed"
    assert codes(order) == []


def test_a_late_hand_over_is_placed_before_the_delivery_it_preceded() -> None:
    order = placed()
    pay(order, "p1", "30.00")
    delivered, handed_over = T0 + timedelta(days=62), T0 + timedelta(days=34)
    for status, at in (("delivered", delivered), ("handed_over", handed_over)):
        order.record_shipment(
            shipment_id="s1",
            status=status,
            carrier=None,
            tracking_number=None,
            lines={},
            occurred_at=at,
            provenance=PROVENANCE,
        )
    assert order.progress.stage == "delivered"
    assert order.progress.shipments["s1"]["status"] == "delivered"
    assert (order.progress.shipped_at, order.progress.delivered_at) == (handed_over, delivered)


def test_an_order_without_lines_is_recorded_and_flagged() -> None:
    order = Order.place(
        system="shop",
        order_ref="empty",
        channel="marketplace",
        customer_ref=None,
        currency="EUR",
        total_amount=Decimal("0"),
        lines=[],
        placed_at=T0,
        aliases=[],
        provenance=PROVENANCE,
    )
    assert codes(order) == ["no_lines"]
    ship(order, "s1", "handed_over")
    assert order.progress.stage == "shipped"


def test_an_amendment_changes_lines_and_total_and_keeps_the_history() -> None:
    order = placed()
    lines = [{"sku": "A", "description": "", "quantity": "3", "unit_price": "10.00"}]
    for _ in range(2):  # the second, identical one is no news
        order.amend(
            currency="EUR",
            total_amount=Decimal("30.00"),
            lines=lines,
            placed_at=T0,
            requested_date=None,
            amended_at=T0 + timedelta(hours=1),
            provenance=PROVENANCE,
        )
    shown = view(order)
    assert [type(e).__name__ for e in logged(order)] == ["Placed", "Amended"]
    assert order.lines == lines
    assert order.progress.ordered == {"A": Decimal("3")}
    assert shown["amended_at"] == (T0 + timedelta(hours=1)).isoformat()
    assert shown["lines"] == [{"sku": "A", "quantity": "3"}]


def test_an_older_version_arriving_late_does_not_undo_an_amendment() -> None:
    order = placed()
    order.amend(
        currency="EUR",
        total_amount=Decimal("50.00"),
        lines=[{"sku": "A", "description": "", "quantity": "5", "unit_price": "10.00"}],
        placed_at=T0,
        requested_date=None,
        amended_at=T0 - timedelta(hours=1),  # stated before the placement we hold
        provenance=PROVENANCE,
    )
    assert order.progress.total_amount == Decimal("30.00")


@pytest.mark.parametrize(
    ("currency", "short", "instalments", "stage"),
    [
        ("EUR", "0.005", None, "paid"),  # half a cent: rounding
        ("EUR", "0.01", None, "partially_paid"),
        ("EUR", "0.05", 10, "paid"),  # ten instalments, each rounded
        ("EUR", "0.06", 10, "partially_paid"),
        ("JPY", "0.5", None, "paid"),  # yen have no minor unit
        ("KWD", "0.0005", None, "paid"),  # fils: three digits
        ("KWD", "0.001", None, "partially_paid"),
    ],
)
def test_rounding_shortfalls_within_the_tolerance_count_as_paid(
    currency: str, short: str, instalments: int | None, stage: str
) -> None:
    order = placed(currency=currency)
    order.record_payment(
        payment_id="p1",
        status="captured",
        amount=Decimal("30.00") - Decimal(short),
        currency=None,
        occurred_at=T0,
        provenance=PROVENANCE,
        instalments=instalments,
        method="card",
    )
    assert order.progress.stage == stage
    assert (order.progress.paid_at is not None) == (stage == "paid")


def test_the_tolerance_per_currency_is_configurable() -> None:
    progress = OrderProgress(PaymentTolerance({"EUR": Decimal("0.05")}))
    content = {"currency": "EUR", "total_amount": Decimal("30.00"), "lines": [], "requested_date": None}
    progress.record(content_fact(at=T0, placed_at=T0, **content))
    progress.record(Fact("payment", T0, "captured", "p1", {"amount": "29.95"}))
    assert progress.stage == "paid"


def test_every_event_carries_provenance() -> None:
    order = placed()
    pay(order, "p1", "30.00")
    assert all(event.provenance == PROVENANCE for event in order.collect_events())


def test_a_payment_dated_before_the_placement_counts_from_the_placement() -> None:
    """A source clock ahead of the shop's dates a payment before the order: nothing is reached
    before the content is known, and a part payment stays a part payment."""
    order = placed()
    order.record_payment(
        payment_id="p1",
        status="captured",
        amount=Decimal("10.00"),
        currency="EUR",
        occurred_at=T0 - timedelta(days=30),
        provenance=PROVENANCE,
    )
    assert order.progress.stage == "partially_paid"
    pay(order, "p2", "20.00")
    assert (order.progress.stage, order.progress.paid_at) == ("paid", T0 + timedelta(hours=1))
